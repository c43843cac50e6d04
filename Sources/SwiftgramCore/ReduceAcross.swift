// Reductions summed across their output row: the loop kernel's path for sums whose
// outputs lie side by side in the operands while each output's own terms do not
// ('ji,j->i', a transposed matrix times a vector; 'nhwc->c', per-channel sums). Summing
// each output down its strided column would read a cache line per term; here every term
// step is one unit-stride sweep over the row's outputs, which the compiler vectorises.

/// Row widths of one sweep: enough lanes to amortise a term step's index walk, few enough
/// that the lanes and their pairwise levels stay in the first-level cache.
let acrossLanes = 256

/// Whether a reduction over `kRow` (its fastest K dim) with outputs along `row` is summed
/// across the row: each side walks the row with stride 0 or 1 (one of them 1), and some
/// side's K run is strided (unit K runs are the per-output dot's case).
func sumsAcrossRow(row: Dim, kRow: Dim, hasB: Bool) -> Bool {
    func unit(_ stride: Int) -> Bool { stride == 0 || stride == 1 }
    guard row.size >= 8, unit(row.a), !hasB || unit(row.b), row.a == 1 || (hasB && row.b == 1) else {
        return false
    }
    return !(unit(kRow.a) && (!hasB || unit(kRow.b)))
}

/// The sums over terms `k` of the K set (odometer order) of a[k.a + w * ra] * b[k.b + w * rb]
/// for w < n (b absent: one; ra, rb in {0, 1}), handed to `emit(w0, sums, lanes)` a sweep
/// of lanes at a time. Each lane adds `scalarBlock` terms in sequence, then the blocks
/// pairwise (LaneCascade), as the per-output path does.
@inline(__always)
func reduceAcross<E: Element>(_ n: Int, _ pa: UnsafePointer<E>, _ ra: Int, _ pb: UnsafePointer<E>?, _ rb: Int,
                              k kDims: [Dim], terms k: Range<Int>,
                              _ emit: (_ w0: Int, _ sums: UnsafeMutablePointer<E.Acc>, _ lanes: Int) -> Void) {
    let terms = k.count
    let width = min(n, acrossLanes)
    let depth = LaneCascade<E.Acc>.depth(blocks: (terms + scalarBlock - 1) / scalarBlock)
    withUnsafeTemporaryAllocation(of: E.Acc.self, capacity: width * (depth + 1)) { buffer in
        let t = buffer.baseAddress!, levels = t + width
        for w0 in stride(from: 0, to: n, by: width) {
            let lanes = min(width, n - w0)
            let (qa, qb) = (pa + w0 * ra, pb.map { $0 + w0 * rb })
            var cascade = LaneCascade(levels: levels, lanes: lanes)
            var o = Odometer(kDims, start: k.lowerBound)
            var done = 0
            repeat {  // once at least: an empty K set sums to zero
                let block = min(scalarBlock, terms - done)
                t.initialize(repeating: E.Acc.zero, count: lanes)
                for _ in 0..<block {
                    let (sa, sb) = (qa + o.a, qb.map { $0 + o.b })
                    switch (sb, ra, rb) {
                    case (nil, _, _):
                        for w in 0..<lanes { t[w] = E.Acc.add(t[w], sa[w].acc) }
                    case (let sb?, 1, 0):
                        let s = sb[0].acc
                        for w in 0..<lanes { t[w] = E.Acc.add(t[w], E.Acc.mul(sa[w].acc, s)) }
                    case (let sb?, 0, _):
                        let s = sa[0].acc
                        for w in 0..<lanes { t[w] = E.Acc.add(t[w], E.Acc.mul(s, sb[w].acc)) }
                    case (let sb?, _, _):
                        for w in 0..<lanes { t[w] = E.Acc.add(t[w], E.Acc.mul(sa[w].acc, sb[w].acc)) }
                    }
                    o.next()
                }
                done += block
                if done < terms { cascade.push(t) } else { cascade.finish(t) }
            } while done < terms
            emit(w0, t, lanes)
        }
    }
}
