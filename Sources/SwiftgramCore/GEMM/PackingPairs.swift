// Packing for a micro-kernel over pairs of k (Microkernel.pairs: bfloat16 with
// AVX512-BF16): the panels of `pack`, each slot a 32-bit word holding the 16-bit values
// of k steps 2p (low half) and 2p + 1 (high half) of one row. The values' bits are moved,
// never converted.

import CSupport
import SwiftgramKernels

/// Packs rows [r0, r0+count) x k [k0, k0+kc) of `src`'s 16-bit values (offsets and
/// tables in elements) into micro-panels of `R` rows: dst[panel][p * R + i] holds k steps
/// 2p and 2p + 1 of row i, (kc + 1) / 2 32-bit slots per panel row. The high half past kc
/// and rows past `count` are zero, so the kernel never branches. `rowsOuter`: k runs along
/// each row in memory. `transposes` move w x w blocks of 32-bit lanes unchanged (their
/// element type is only the lanes' width).
func packPairs<W>(_ src: UnsafePointer<UInt16>, rows: IndexMap, r0: Int, ks: IndexMap, k0: Int,
                  count: Int, kc: Int, R: Int, rowsOuter: Bool, interleave: InterleaveFunction,
                  transposes: [(lanes: Int, run: TransposeFunction<W>)], into dst: UnsafeMutablePointer<UInt32>) {
    let x = src
    let steps = (kc + 1) / 2
    if rows.step == 1, !rowsOuter {
        // Rows contiguous: at each pair of k steps, two runs across all the panels
        // interleaved into words, read once, in order.
        let first = x + r0
        let full = count / R * R, rest = count - full
        let ahead = prefetchSteps(runBytes: 2 * count * 2)
        var q = dst
        for p in 0..<steps {
            let lo = first + ks[k0 + 2 * p]
            let hasHi = 2 * p + 1 < kc
            let hi = hasHi ? first + ks[k0 + 2 * p + 1] : lo
            if k0 + 2 * p + 2 * ahead + 1 < ks.count {
                // Fetch the runs `ahead` pairs on while these are interleaved.
                let next0 = UnsafeRawPointer(first + ks[k0 + 2 * p + 2 * ahead])
                let next1 = UnsafeRawPointer(first + ks[k0 + 2 * p + 2 * ahead + 1])
                for line in stride(from: 0, to: count * 2, by: 64) {
                    sg_prefetch(next0 + line)
                    sg_prefetch(next1 + line)
                }
            }
            let mask: UInt32 = hasHi ? 0xFFFF : 0
            if hasHi {
                interleave(lo, hi, q, R, full / R, R * steps)  // the ISA's vector code
            } else {
                for i in 0..<full { q[i / R * R * steps + i % R] = UInt32(lo[i]) }
            }
            if rest > 0 {
                let u = q + full * steps
                for i in 0..<rest { u[i] = UInt32(lo[full + i]) | (UInt32(hi[full + i]) & mask) << 16 }
                for i in rest..<R { u[i] = 0 }
            }
            q += R
        }
        return
    }
    // Any other layout: row by row along k (a run of k at a time where k is contiguous:
    // each word one unaligned 32-bit load).
    let contiguous = ks.step == 1
    // Where k is contiguous along evenly spaced rows, word-aligned, a full panel's words
    // are w x w blocks of 32-bit lanes: the ISA's float32 transpositions move them (bits
    // unchanged), w rows and w pairs at a time.
    let blocks = contiguous ? transposes.first { R % $0.lanes == 0 && kc / 2 >= $0.lanes } : nil
    let offsets = blocks.map { w in (0..<w.lanes).map { $0 * R } } ?? []
    withUnsafeTemporaryAllocation(of: Int.self, capacity: kc) { kOff in
        for p in 0..<kc { kOff[p] = ks[k0 + p] }
        var panel = 0
        while panel < count {
            let n = min(R, count - panel)
            let d = dst + panel * steps
            let first = x + rows[r0 + panel] + (kc > 0 ? kOff[0] : 0)
            if let (w, transpose) = blocks, n == R, let rst = rows.progression(from: r0 + panel, count: R), rst % 2 == 0,
               Int(bitPattern: first) % 4 == 0 {
                // Reinterpreted as the transposes' 32-bit lanes (bits moved, never computed).
                let words = UnsafeRawPointer(first).assumingMemoryBound(to: W.self)
                let out = UnsafeMutableRawPointer(d).assumingMemoryBound(to: W.self)
                let whole = kc / 2 / w * w  // pairs moved in blocks
                offsets.withUnsafeBufferPointer { o in
                    for g in stride(from: 0, to: R, by: w) {
                        for p in stride(from: 0, to: whole, by: w) {
                            transpose(words + g * (rst / 2) + p, rst / 2, out + p * R + g, o.baseAddress!)
                        }
                    }
                }
                // The pairs past the blocks, and an odd last step.
                for i in 0..<R {
                    let row = first + i * rst
                    for p in whole..<steps {
                        let hi = 2 * p + 1 < kc ? UInt32(row[2 * p + 1]) << 16 : 0
                        d[p * R + i] = UInt32(row[2 * p]) | hi
                    }
                }
                panel += R
                continue
            }
            for i in 0..<n {
                let row = x + rows[r0 + panel + i]
                var u = d + i
                if contiguous {
                    let base = UnsafeRawPointer(row + kOff[0])
                    for p in 0..<kc / 2 {
                        u.pointee = base.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)
                        u += R
                    }
                    if kc % 2 == 1 { u.pointee = UInt32(row[kOff[kc - 1]]) }
                } else {
                    for p in 0..<steps {
                        let hi = 2 * p + 1 < kc ? UInt32(row[kOff[2 * p + 1]]) << 16 : 0
                        u.pointee = UInt32(row[kOff[2 * p]]) | hi
                        u += R
                    }
                }
            }
            if n < R { for p in 0..<steps { for i in n..<R { d[p * R + i] = 0 } } }
            panel += R
        }
    }
}
