// The symmetric product computes the upper triangle of C only; the mirror copies it onto
// the lower one.

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

    /// The whole mirror of one product, its row blocks shared by `workers` threads.
    func mirror(_ c: UnsafeMutablePointer<E>, workers: Int) {
        let B = mirrorBlock, blocks = (M + B - 1) / B
        parallelFor(blocks, threads: workers) { i, _ in mirror(c, rows: i * B..<min(M, (i + 1) * B)) }
    }
}
