// Micro-kernels for AVX2 + FMA (x86-64-v3): 8 float / 4 double lanes.
// Only concrete, non-generic functions are public here (see SwiftgramKernels/Microkernel.swift).
import SwiftgramKernels

public let float32KernelAVX2 = Microkernel<Float>(
    mr: microkernelRows, nr: 2 * 8, run: { simdMicrokernel(SIMD8<Float>.self, fused: true, $0) },
    narrow: { simdMicrokernel(SIMD8<Float>.self, fused: true, vectors: 1, $0) },
    transposes: [(8, { simdTranspose(SIMD8<Float>.self, $0, $1, $2, $3) }),
                 (4, { simdTranspose(SIMD4<Float>.self, $0, $1, $2, $3) })])

public let float64KernelAVX2 = Microkernel<Double>(
    mr: microkernelRows, nr: 2 * 4, run: { simdMicrokernel(SIMD4<Double>.self, fused: true, $0) },
    narrow: { simdMicrokernel(SIMD4<Double>.self, fused: true, vectors: 1, $0) },
    transposes: [(4, { simdTranspose(SIMD4<Double>.self, $0, $1, $2, $3) }),
                 (2, { simdTranspose(SIMD2<Double>.self, $0, $1, $2, $3) })])

public let float32DotAVX2: DotFunction<Float> = { simdDot(SIMD8<Float>.self, fused: true, $0, $1, $2) }
public let float64DotAVX2: DotFunction<Double> = { simdDot(SIMD4<Double>.self, fused: true, $0, $1, $2) }
