// Packing: copies of A and B blocks into the micro-kernel's panel layout, straight from
// the operands' strides (vectorised transpositions where runs lie side by side).

import CSupport
import SwiftgramKernels

/// dst[i * dstStep] = src[i * srcStep] for i < n, by pointer steps (indexed loops over
/// strided runs kept their overflow checks in the loop).
@inline(__always)
func copyStrided<E: Element>(_ n: Int, from src: UnsafePointer<E>, _ srcStep: Int,
                             to dst: UnsafeMutablePointer<E.Acc>, _ dstStep: Int) {
    var (s, d) = (src, dst)
    for _ in 0..<n {
        d.pointee = s.pointee.acc
        s += srcStep
        d += dstStep
    }
}

/// Runs `body` with `R` as a literal for the SIMD kernels' panel sizes, so loops over a
/// panel's R elements unroll into a few vector moves.
@inline(__always)
func withPanelSize(_ R: Int, _ body: (Int) -> Void) {
    switch R {
    case 6: body(6)
    case 8: body(8)
    case 16: body(16)
    case 32: body(32)
    default: body(R)
    }
}

/// Packs rows [r0, r0+count) x k [k0, k0+kc) of `src` into micro-panels of `R` rows:
/// dst[panel][p * R + i]. Rows past `count` are zero so the kernel never branches.
/// `rowsOuter` walks each row along k (k contiguous in memory), else each k across rows.
@inline(__always)
func pack<E: Element>(_ src: UnsafePointer<E>, rows: IndexMap, r0: Int, ks: IndexMap, k0: Int,
                      count: Int, kc: Int, R: Int, rowsOuter: Bool, onlyPartial: Bool = false,
                      transposes: [(lanes: Int, run: TransposeFunction<E.Acc>)] = [],
                      into dst: UnsafeMutablePointer<E.Acc>) {
    // Operands read in place (see Gemm.aInPlace) only need their ragged last panel.
    var panel = onlyPartial ? count / R * R : 0
    if rows.step == 1, !rowsOuter {
        // Rows contiguous: each k step is one contiguous run across all the panels, read
        // once, in order (panel by panel would revisit every source line per panel).
        let first = src + r0 + panel
        var q = dst + panel * kc
        let full = count / R * R - panel
        let runBytes = (count - panel) * MemoryLayout<E>.stride
        let ahead = prefetchSteps(runBytes: runBytes)
        // float16 / bfloat16 with the ISA's vector conversion: a call per panel's run.
        let widen = E.conversions.widen
        for p in 0..<kc {
            let s = first + ks[k0 + p]
            // Fetch the run `ahead` k steps on while this one is copied.
            if k0 + p + ahead < ks.count {
                let next = UnsafeRawPointer(first + ks[k0 + p + ahead])
                for line in stride(from: 0, to: runBytes, by: 64) { sg_prefetch(next + line) }
            }
            withPanelSize(R) { R in
                var (t, u) = (s, q)
                for _ in stride(from: 0, to: full, by: R) {
                    if E.self == E.Acc.self {
                        // A copy of constant size: vector moves (the element loop stays scalar).
                        UnsafeMutableRawPointer(u).copyMemory(from: t, byteCount: R * MemoryLayout<E>.stride)
                    } else if let widen {
                        widen(UnsafeRawPointer(t).assumingMemoryBound(to: UInt16.self),
                              UnsafeMutableRawPointer(u).assumingMemoryBound(to: Float.self), R)
                    } else {
                        for i in 0..<R { u[i] = t[i].acc }
                    }
                    t += R
                    u += R * kc
                }
            }
            // The ragged last panel, zero-padded so the kernel never branches.
            let rest = count - panel - full
            if rest > 0 {
                let u = q + full * kc
                for i in 0..<rest { u[i] = s[full + i].acc }
                for i in rest..<R { u[i] = E.Acc.zero }
            }
            q += R
        }
        return
    }
    if !rowsOuter {
        packAcrossRows(src, rows: rows, r0: r0, ks: ks, k0: k0, count: count, kc: kc, R: R, from: panel,
                       transposes: transposes, into: dst)
        return
    }
    while panel < count {
        let n = min(R, count - panel)
        let d = dst + panel * kc
        // A full panel of evenly spaced rows over k in contiguous runs: their row step.
        let evenRows = n == R && ks.runStep == 1 ? rows.progression(from: r0 + panel, count: R) : nil
        switch (evenRows, rows.step, ks.step) {
        case (let rst?, _, _):
            // One pass over each k run with contiguous stores, which the compiler
            // vectorises as an interleaved store (A of 'acbd,dcfe->abef': runs of d, rows
            // b..b+7).
            let s0 = src + rows[r0 + panel]
            // Short k runs (under 1 KiB; the hardware prefetcher follows longer ones, where
            // these prefetches only cost): the next panel's rows, each run fetched while this
            // panel's copy of it runs.
            let nextRows = min(R, count - panel - R)
            let short = ks.step == nil && ks.run * MemoryLayout<E>.stride < 1024
            let next = nextRows > 0 && short ? rows.progression(from: r0 + panel + R, count: nextRows).map {
                (src + rows[r0 + panel + R], $0)
            } : nil
            withPanelSize(R) { R in
                ks.forEachRun(from: k0, count: kc) { off, _, p0, len in
                    let s = s0 + off
                    if let (first, step) = next {
                        for i in 0..<nextRows {
                            let row = UnsafeRawPointer(first + off + i &* step)
                            for line in stride(from: 0, to: len * MemoryLayout<E>.stride, by: 64) { sg_prefetch(row + line) }
                        }
                    }
                    for p in 0..<len {
                        let q = d + R &* (p0 &+ p)
                        for i in 0..<R { q[i] = s[i &* rst &+ p].acc }
                    }
                }
            }
        case (nil, let rst?, 1?):
            // k contiguous, a ragged panel: stream along each row.
            for i in 0..<n { copyStrided(kc, from: src + (r0 + panel + i) * rst + ks[k0], 1, to: d + i, R) }
        default:
            // Along k within each row, a run of k at a time.
            for i in 0..<n {
                let base = src + rows[r0 + panel + i]
                ks.forEachRun(from: k0, count: kc) { off, st, p0, len in
                    copyStrided(len, from: base + off, st, to: d + p0 * R + i, R)
                }
            }
        }
        if n < R { for p in 0..<kc { for i in n..<R { d[p * R + i] = E.Acc.zero } } }
        panel += R
    }
}

/// `pack` for rows that are not contiguous, with k not along the rows either: the panels
/// [from, count) gathered across rows at each k step.
func packAcrossRows<E: Element>(_ src: UnsafePointer<E>, rows: IndexMap, r0: Int, ks: IndexMap, k0: Int,
                                count: Int, kc: Int, R: Int, from panel: Int,
                                transposes: [(lanes: Int, run: TransposeFunction<E.Acc>)],
                                into dst: UnsafeMutablePointer<E.Acc>) {
    // Across rows at each k, k outer over all the panels: source lines that neighbouring
    // panels share are read once per k step (panel by panel would revisit them). When the
    // rows lie densely in memory (a transposed run order, say), their span is prefetched
    // ahead.
    let (lo, hi) = rows.span(from: r0 + panel, count: count - panel)
    let spanBytes = (hi - lo + 1) * MemoryLayout<E>.stride
    let dense = spanBytes <= 4 * (count - panel) * MemoryLayout<E>.stride
    let ahead = prefetchSteps(runBytes: spanBytes)
    // Runs of rows that lie next to each other in memory, w at a time, are gathered as
    // w x w transpositions in registers (the vector width first, narrower ones for what is
    // left over); the rest element by element. A contiguous dimension narrower than the
    // vector width (e = 12, say) is covered too.
    let usable = E.self == E.Acc.self
        ? transposes.filter { R % $0.lanes == 0 && r0 % $0.lanes == 0 && rows.run % $0.lanes == 0 } : []
    let groups = usable.isEmpty ? []
        : rows.adjacentRuns(from: r0 + panel, count: count - panel, widths: usable.map(\.lanes))
    var singles = [Range<Int>]()  // columns (from r0) outside the groups
    var done = panel
    for (j, k) in groups {
        singles.append(done..<j * rows.run - r0)
        done = (j + usable[k].lanes) * rows.run - r0
    }
    singles.append(done..<count)
    // Where each transposed column goes, from the k step's row of its panel.
    var tileOffsets = [Int]()
    tileOffsets.reserveCapacity(groups.count * rows.run)
    for (j, k) in groups {
        let w = usable[k].lanes
        for e in stride(from: 0, to: rows.run, by: w) {
            for t in 0..<w {
                let col = (j + t) * rows.run + e - r0
                tileOffsets.append(col / R * R * kc + col % R)
            }
        }
    }
    for p in 0..<kc {
        let base = src + ks[k0 + p]
        if dense && k0 + p + ahead < ks.count {
            let next = UnsafeRawPointer(src + ks[k0 + p + ahead] + lo)
            for line in stride(from: 0, to: spanBytes, by: 64) { sg_prefetch(next + line) }
        }
        if !groups.isEmpty {
            let from = UnsafeRawPointer(base).assumingMemoryBound(to: E.Acc.self)
            tileOffsets.withUnsafeBufferPointer { offsets in
                var o = offsets.baseAddress!
                for (j, k) in groups {
                    let (w, transpose) = usable[k]
                    for e in stride(from: 0, to: rows.run, by: w) {
                        transpose(from + rows.table[j] + e * rows.runStep, rows.runStep, dst + p * R, o)
                        o += w
                    }
                }
            }
        }
        for range in singles {
            var col = range.lowerBound
            while col < range.upperBound {
                let start = col / R * R, n = min(start + R, range.upperBound) - col
                let q = dst + start * kc + p * R + (col - start)
                rows.forEachRun(from: r0 + col, count: n) { off, st, i0, len in
                    copyStrided(len, from: base + off, st, to: q + i0, 1)
                }
                col += n
            }
        }
        if count % R != 0 {
            let q = dst + count / R * R * kc + p * R
            for i in count % R..<R { q[i] = E.Acc.zero }
        }
    }
}
