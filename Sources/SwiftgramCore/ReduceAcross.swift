// Reductions summed across their output row: the loop kernel's path for sums whose
// outputs lie side by side in the operands while each output's own terms do not
// ('ji,j->i', a transposed matrix times a vector; 'nhwc->c', per-channel sums). Summing
// each output down its strided column would read a cache line per term; here every term
// step is one unit-stride sweep over the row's outputs, four terms per sweep in the ISA's
// vectors (SwiftgramKernels/Sweep.swift).

import SwiftgramKernels

/// Lanes of one sweep for accumulators of `size` bytes: half the first-level cache, so the
/// lanes stay there while each term step reads its operands' rows in long contiguous runs
/// (a narrower sweep revisits every row once per strip: a strided walk over large operands).
/// At most 64 Ki lanes, whatever cache sizes SWIFTGRAM_CACHES claims.
func acrossLanes(accumulatorBytes size: Int) -> Int { min(1 << 16, max(256, Caches.machine.l1d / 2 / size)) }

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

/// Four pointers, one per term of a sweep.
typealias Four<E> = (UnsafePointer<E>, UnsafePointer<E>, UnsafePointer<E>, UnsafePointer<E>)

/// The operands at the odometer's next four terms (b's absent when b is), leaving it past them.
@inline(__always)
func nextFour<E>(_ o: inout Odometer, _ qa: UnsafePointer<E>, _ qb: UnsafePointer<E>?) -> (a: Four<E>, b: Four<E>?) {
    let (a0, b0) = (qa + o.a, o.b); o.next()
    let (a1, b1) = (qa + o.a, o.b); o.next()
    let (a2, b2) = (qa + o.a, o.b); o.next()
    let (a3, b3) = (qa + o.a, o.b); o.next()
    return ((a0, a1, a2, a3), qb.map { ($0 + b0, $0 + b1, $0 + b2, $0 + b3) })
}

/// t[w] += r0[w] * f0 + ... + r3[w] * f3 over w < n, added in that order, the factors
/// one scalar per row, or one row shared by the four, or none (see SweepFunction); in the
/// ISA's vectors where it has a sweep for the type.
@inline(__always)
func add4<E: Element>(_ n: Int, _ t: UnsafeMutablePointer<E.Acc>,
                      _ r: Four<E>, scalars s: (E.Acc, E.Acc, E.Acc, E.Acc)? = nil, row f: UnsafePointer<E>? = nil) {
    if E.self == E.Acc.self, let sweep = E.Acc.sweep {
        let factor: SweepFactor<E.Acc> = if let s { .scalars(s.0, s.1, s.2, s.3) } else if let f { .row(asAcc(f)) } else { .none }
        return sweep(n, t, (asAcc(r.0), asAcc(r.1), asAcc(r.2), asAcc(r.3)), factor)
    }
    if let s {
        for w in 0..<n {
            var x = E.Acc.add(t[w], E.Acc.mul(r.0[w].acc, s.0))
            x = E.Acc.add(x, E.Acc.mul(r.1[w].acc, s.1))
            x = E.Acc.add(x, E.Acc.mul(r.2[w].acc, s.2))
            t[w] = E.Acc.add(x, E.Acc.mul(r.3[w].acc, s.3))
        }
    } else if let f {
        for w in 0..<n {
            let y = f[w].acc
            var x = E.Acc.add(t[w], E.Acc.mul(r.0[w].acc, y))
            x = E.Acc.add(x, E.Acc.mul(r.1[w].acc, y))
            x = E.Acc.add(x, E.Acc.mul(r.2[w].acc, y))
            t[w] = E.Acc.add(x, E.Acc.mul(r.3[w].acc, y))
        }
    } else {
        for w in 0..<n { t[w] = E.Acc.add(E.Acc.add(E.Acc.add(E.Acc.add(t[w], r.0[w].acc), r.1[w].acc), r.2[w].acc), r.3[w].acc) }
    }
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
    let width = min(n, acrossLanes(accumulatorBytes: MemoryLayout<E.Acc>.stride))
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
                // Four terms per sweep: each lane stays in a register across them (one load
                // and store of t per four terms), its additions in the same order.
                var left = block
                while left >= 4 {
                    let (a, b) = nextFour(&o, qa, qb)
                    switch (b, ra, rb) {
                    case (nil, _, _):
                        add4(lanes, t, a)
                    case (let b?, 1, 0):
                        add4(lanes, t, a, scalars: (b.0[0].acc, b.1[0].acc, b.2[0].acc, b.3[0].acc))
                    case (let b?, 0, _):
                        add4(lanes, t, b, scalars: (a.0[0].acc, a.1[0].acc, a.2[0].acc, a.3[0].acc))
                    case (let b?, _, _):
                        for w in 0..<lanes {
                            var x = E.Acc.add(t[w], E.Acc.mul(a.0[w].acc, b.0[w].acc))
                            x = E.Acc.add(x, E.Acc.mul(a.1[w].acc, b.1[w].acc))
                            x = E.Acc.add(x, E.Acc.mul(a.2[w].acc, b.2[w].acc))
                            t[w] = E.Acc.add(x, E.Acc.mul(a.3[w].acc, b.3[w].acc))
                        }
                    }
                    left -= 4
                }
                for _ in 0..<left {
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
