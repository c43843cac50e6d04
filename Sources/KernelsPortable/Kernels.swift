// Micro-kernels for baseline x86-64 (SSE2) or any other CPU, no FMA: 4 float / 2 double
// lanes, 6 x 2-vector blocks.
// Only concrete, non-generic values are public here (see SwiftgramKernels/Microkernel.swift).
import SwiftgramKernels

public let float32KernelPortable = Microkernel<Float>(SIMD4<Float>.self, fused: false, narrower: [transpose(SIMD2<Float>.self)])
public let float64KernelPortable = Microkernel<Double>(SIMD2<Double>.self, fused: false)

public let float32DotPortable: DotFunction<Float> = { simdDot(SIMD4<Float>.self, fused: false, $0, $1, $2) }
public let float64DotPortable: DotFunction<Double> = { simdDot(SIMD2<Double>.self, fused: false, $0, $1, $2) }
public let float32SweepPortable: SweepFunction<Float> = { simdSweep(SIMD4<Float>.self, SIMD2<Float>.self, $0, $1, $2, $3) }
public let float64SweepPortable: SweepFunction<Double> = { simdSweep(SIMD2<Double>.self, SIMD2<Double>.self, $0, $1, $2, $3) }
