// The symmetric product computes the upper triangle of C only; the mirror copies it onto
// the lower one. A product staged in float32 (a narrower C) is stored, and mirrored, in one
// pass.

import CSupport
import SwiftgramKernels

/// Side of the square blocks the symmetric mirror copies (16 strided lines fit L1 sets).
let mirrorBlock = 16

extension Gemm {
    /// Copies the computed upper triangle onto the skipped lower one, for rows in `rows`.
    /// In 16x16 blocks: the strided reads of a block stay in L1 while it is copied.
    func mirror(_ c: UnsafeMutablePointer<E>, rows: Range<Int>) {
        let B = mirrorBlock
        for i0 in stride(from: rows.lowerBound, to: rows.upperBound, by: B) {
            let i1 = min(i0 + B, rows.upperBound)
            for j0 in stride(from: 0, to: i1 - 1, by: B) {
                if let rs = cRows.step, let cs = cCols.step {
                    // Plain strides (the usual output): pointer steps only.
                    for i in i0..<i1 {
                        var (dst, src) = (c + i &* rs + j0 &* cs, c + j0 &* rs + i &* cs)
                        for _ in j0..<max(j0, min(j0 + B, i)) {
                            dst.pointee = src.pointee
                            dst += cs
                            src += rs
                        }
                    }
                } else {
                    for i in i0..<i1 {
                        let row = c + cRows[i]
                        for j in j0..<max(j0, min(j0 + B, i)) { row[cCols[j]] = c[cRows[j] + cCols[i]] }
                    }
                }
            }
        }
    }

    /// Rounds a product computed in float32 (dense M x N, its upper triangle only when
    /// symmetric) once into C of the narrower type; with `accumulate` adds it to C's values.
    func store(_ product: UnsafePointer<E.Acc>, into c: UnsafeMutablePointer<E>, rows: Range<Int>, accumulate: Bool) {
        let narrow = E.conversions.narrow  // a run at a time, in vectors
        for i in rows {
            let row = c + cRows[i], src = product + i &* N
            // Below the diagonal of a symmetric product: the transposed entry.
            let lower = symmetric ? min(i, N) : 0
            for j in 0..<lower {
                let dst = row + cCols[j], v = product[j &* N &+ i]
                dst.pointee = E(acc: accumulate ? E.Acc.add(dst.pointee.acc, v) : v)
            }
            if cCols.step == 1, !accumulate, let narrow {
                narrow(UnsafeRawPointer(src + lower).assumingMemoryBound(to: Float.self),
                       UnsafeMutableRawPointer(row + lower).assumingMemoryBound(to: UInt16.self), N - lower)
            } else if let cs = cCols.step, !accumulate {
                var dst = row + lower &* cs
                for j in lower..<N {
                    dst.pointee = E(acc: src[j])
                    dst += cs
                }
            } else {
                for j in lower..<N {
                    let dst = row + cCols[j]
                    dst.pointee = E(acc: accumulate ? E.Acc.add(dst.pointee.acc, src[j]) : src[j])
                }
            }
        }
    }

    /// `store` of a whole product, its row blocks shared by `workers` threads.
    func store(_ product: UnsafePointer<E.Acc>, into c: UnsafeMutablePointer<E>, workers: Int, accumulate: Bool) {
        let B = mirrorBlock, blocks = (M + B - 1) / B
        parallelFor(blocks, threads: workers) { i, _ in
            store(product, into: c, rows: i * B..<min(M, (i + 1) * B), accumulate: accumulate)
        }
    }

    /// The whole mirror of one product, its row blocks shared by `workers` threads.
    func mirror(_ c: UnsafeMutablePointer<E>, workers: Int) {
        let B = mirrorBlock, blocks = (M + B - 1) / B
        parallelFor(blocks, threads: workers) { i, _ in mirror(c, rows: i * B..<min(M, (i + 1) * B)) }
    }
}
