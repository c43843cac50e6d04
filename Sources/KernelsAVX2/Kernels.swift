// Micro-kernels for AVX2 + FMA (x86-64-v3): 8 float / 4 double lanes, 6 x 2-vector blocks.
// Only concrete, non-generic values are public here (see SwiftgramKernels/Microkernel.swift).
import SwiftgramKernels

public let float32KernelAVX2 = Microkernel<Float>(SIMD8<Float>.self, fused: true, narrower: [transpose(SIMD4<Float>.self)])
public let float64KernelAVX2 = Microkernel<Double>(SIMD4<Double>.self, fused: true, narrower: [transpose(SIMD2<Double>.self)])

public let float32DotAVX2: DotFunction<Float> = { simdDot(SIMD8<Float>.self, fused: true, $0, $1, $2) }
public let float64DotAVX2: DotFunction<Double> = { simdDot(SIMD4<Double>.self, fused: true, $0, $1, $2) }
public let float32SweepAVX2: SweepFunction<Float> = { simdSweep(SIMD8<Float>.self, SIMD4<Float>.self, $0, $1, $2, $3) }
public let float64SweepAVX2: SweepFunction<Double> = { simdSweep(SIMD4<Double>.self, SIMD2<Double>.self, $0, $1, $2, $3) }

/// float16 / bfloat16 <-> float32 runs for packing and storing (F16C: vcvtph2ps, vcvtps2ph).
public let widenHalfAVX2: WidenFunction = { widenHalves($0, $1, $2) }
public let narrowHalfAVX2: NarrowFunction = { narrowHalves($0, $1, $2) }
public let widenBFloat16AVX2: WidenFunction = { widenBFloat16s($0, $1, $2) }
public let narrowBFloat16AVX2: NarrowFunction = { narrowBFloat16s($0, $1, $2) }
