// Micro-kernels for AVX-512 (x86-64-v4): 16 float / 8 double lanes, 8 x 2-vector blocks.
// Only concrete, non-generic values are public here (see SwiftgramKernels/Microkernel.swift).
import SwiftgramKernels

public let float32KernelAVX512 = Microkernel<Float>(
    SIMD16<Float>.self, fused: true, rows: wideMicrokernelRows, narrower: [transpose(SIMD8<Float>.self), transpose(SIMD4<Float>.self)])
public let float64KernelAVX512 = Microkernel<Double>(
    SIMD8<Double>.self, fused: true, rows: wideMicrokernelRows, narrower: [transpose(SIMD4<Double>.self), transpose(SIMD2<Double>.self)])

public let float32DotAVX512: DotFunction<Float> = { simdDot(SIMD16<Float>.self, fused: true, $0, $1, $2) }
public let float64DotAVX512: DotFunction<Double> = { simdDot(SIMD8<Double>.self, fused: true, $0, $1, $2) }
public let float32SweepAVX512: SweepFunction<Float> = { simdSweep(SIMD16<Float>.self, SIMD8<Float>.self, $0, $1, $2, $3) }
public let float64SweepAVX512: SweepFunction<Double> = { simdSweep(SIMD8<Double>.self, SIMD4<Double>.self, $0, $1, $2, $3) }

/// float16 / bfloat16 <-> float32 runs for packing and storing (F16C: vcvtph2ps, vcvtps2ph).
public let widenHalfAVX512: WidenFunction = { widenHalves($0, $1, $2) }
public let narrowHalfAVX512: NarrowFunction = { narrowHalves($0, $1, $2) }
public let widenBFloat16AVX512: WidenFunction = { widenBFloat16s($0, $1, $2) }
public let narrowBFloat16AVX512: NarrowFunction = { narrowBFloat16s($0, $1, $2) }
