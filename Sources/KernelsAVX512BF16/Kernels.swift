// The bfloat16 micro-kernel for AVX-512 with AVX512-BF16 (vdpbf16ps): the float32
// kernel's 8 x 2-vector block of 16 float32 lanes, each lane gaining the products of one
// bfloat16 pair of k per instruction (Microkernel.pairs), so half the k steps.
// Only concrete, non-generic values are public here (see SwiftgramKernels/Microkernel.swift).
import CSupport
import SwiftgramKernels

#if arch(x86_64)
// The closures stay in this module (see MultiplyAdd): the intrinsic is inlined into the loop.
public let bfloat16PairKernelAVX512BF16: Microkernel<Float>? = Microkernel<Float>(
    mr: wideMicrokernelRows, nr: 32,
    run: { t in
        simdMicrokernel(SIMD16<Float>.self, fused: true, rows: wideMicrokernelRows, vectors: 2,
                        product: { c, a, b in c = sg_dot_bf16_pairs(c, a, b) }, t)
    },
    narrow: { t in
        simdMicrokernel(SIMD16<Float>.self, fused: true, rows: wideMicrokernelRows, vectors: 1,
                        product: { c, a, b in c = sg_dot_bf16_pairs(c, a, b) }, t)
    },
    // Pair words are 32-bit lanes: float32's transpositions move them (A of 'ij,jk').
    transposes: [transpose(SIMD16<Float>.self), transpose(SIMD8<Float>.self), transpose(SIMD4<Float>.self)],
    interleave: { interleavePairs($0, $1, $2, $3, $4, $5) })
#else
public let bfloat16PairKernelAVX512BF16: Microkernel<Float>? = nil
#endif
