// Micro-kernels for baseline x86-64 (SSE2), no FMA: 4 float / 2 double lanes.
// Only concrete, non-generic functions are public here (see SwiftgramKernels/Microkernel.swift).
import SwiftgramKernels

public let float32KernelPortable = Microkernel<Float>(
    mr: microkernelRows, nr: 2 * 4, run: { simdMicrokernel(SIMD4<Float>.self, fused: false, $0) },
    narrow: { simdMicrokernel(SIMD4<Float>.self, fused: false, vectors: 1, $0) },
    transposes: [(4, { simdTranspose(SIMD4<Float>.self, $0, $1, $2, $3) }),
                 (2, { simdTranspose(SIMD2<Float>.self, $0, $1, $2, $3) })])

public let float64KernelPortable = Microkernel<Double>(
    mr: microkernelRows, nr: 2 * 2, run: { simdMicrokernel(SIMD2<Double>.self, fused: false, $0) },
    narrow: { simdMicrokernel(SIMD2<Double>.self, fused: false, vectors: 1, $0) },
    transposes: [(2, { simdTranspose(SIMD2<Double>.self, $0, $1, $2, $3) })])

public let float32DotPortable: DotFunction<Float> = { simdDot(SIMD4<Float>.self, fused: false, $0, $1, $2) }
public let float64DotPortable: DotFunction<Double> = { simdDot(SIMD2<Double>.self, fused: false, $0, $1, $2) }
