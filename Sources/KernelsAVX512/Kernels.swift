// Micro-kernels for AVX-512 (x86-64-v4): 16 float / 8 double lanes.
// Only concrete, non-generic functions are public here (see SwiftgramKernels/Microkernel.swift).
import SwiftgramKernels

public let float32KernelAVX512 = Microkernel<Float>(
    mr: wideMicrokernelRows, nr: 2 * 16,
    run: { simdMicrokernel(SIMD16<Float>.self, fused: true, rows: wideMicrokernelRows, $0) },
    narrow: { simdMicrokernel(SIMD16<Float>.self, fused: true, rows: wideMicrokernelRows, vectors: 1, $0) },
    transposes: [(16, { simdTranspose(SIMD16<Float>.self, $0, $1, $2, $3) }),
                 (8, { simdTranspose(SIMD8<Float>.self, $0, $1, $2, $3) }),
                 (4, { simdTranspose(SIMD4<Float>.self, $0, $1, $2, $3) })])

public let float64KernelAVX512 = Microkernel<Double>(
    mr: wideMicrokernelRows, nr: 2 * 8,
    run: { simdMicrokernel(SIMD8<Double>.self, fused: true, rows: wideMicrokernelRows, $0) },
    narrow: { simdMicrokernel(SIMD8<Double>.self, fused: true, rows: wideMicrokernelRows, vectors: 1, $0) },
    transposes: [(8, { simdTranspose(SIMD8<Double>.self, $0, $1, $2, $3) }),
                 (4, { simdTranspose(SIMD4<Double>.self, $0, $1, $2, $3) }),
                 (2, { simdTranspose(SIMD2<Double>.self, $0, $1, $2, $3) })])

public let float32DotAVX512: DotFunction<Float> = { simdDot(SIMD16<Float>.self, fused: true, $0, $1, $2) }
public let float64DotAVX512: DotFunction<Double> = { simdDot(SIMD8<Double>.self, fused: true, $0, $1, $2) }
