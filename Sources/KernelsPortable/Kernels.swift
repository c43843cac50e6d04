// Micro-kernels for baseline x86-64 (SSE2), no FMA: 4 float / 2 double lanes.
// Only concrete, non-generic functions are public here (see SwiftgramKernels/Microkernel.swift).
import SwiftgramKernels

public let float32KernelPortable = Microkernel<Float>(mr: microkernelRows, nr: 2 * 4) {
    simdMicrokernel(SIMD4<Float>.self, fused: false, kc: $0, a: $1, b: $2, c: $3,
                    rowOff: $4, cs: $5, mr: $6, nr: $7, alpha: $8, accumulate: $9)
}

public let float64KernelPortable = Microkernel<Double>(mr: microkernelRows, nr: 2 * 2) {
    simdMicrokernel(SIMD2<Double>.self, fused: false, kc: $0, a: $1, b: $2, c: $3,
                    rowOff: $4, cs: $5, mr: $6, nr: $7, alpha: $8, accumulate: $9)
}
