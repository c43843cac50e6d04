// The loop kernel's lane-by-lane sums: a reduction over many short unit-stride runs (or
// runs times one shared run) adds its runs lane by lane into a buffer of one run's length
// and reduces the buffer once per block of runs, since a horizontal sum per run would cost
// more than the run itself ('ijk->j' with short k, NumPy's 'ji,i->').

import SwiftgramKernels

/// Longest K run the loop kernel sums lane by lane across runs (see LoopNest.run).
let lanewiseRun = 256

/// The side of a product whose K runs are all one run (its strides along the K set's
/// other dims are zero): the lane-by-lane sums multiply the other side's runs by it.
enum SharedSide { case a, b }

/// Runs of `length` the loop kernel adds into its lanes before their total joins the
/// pairwise tree: about 8192 terms (NumPy's chunk), 16 to 256 adds per lane.
func lanewiseBlock(_ length: Int) -> Int { min(256, max(16, 8192 / max(length, 1))) }

/// t[j] += a[j] * b[j] over one run (b absent: one); a side with stride 0 is one value.
@inline(__always)
func addRun<E: Element>(_ n: Int, _ qa: UnsafePointer<E>, _ sa: Int, _ qb: UnsafePointer<E>?, _ sb: Int,
                        into t: UnsafeMutablePointer<E.Acc>) {
    guard let qb else {
        for j in 0..<n { t[j] = E.Acc.add(t[j], qa[j].acc) }
        return
    }
    switch (sa, sb) {
    case (0, _):
        let s = qa[0].acc
        for j in 0..<n { t[j] = E.Acc.add(t[j], E.Acc.mul(s, qb[j].acc)) }
    case (_, 0):
        let s = qb[0].acc
        for j in 0..<n { t[j] = E.Acc.add(t[j], E.Acc.mul(qa[j].acc, s)) }
    default:
        for j in 0..<n { t[j] = E.Acc.add(t[j], E.Acc.mul(qa[j].acc, qb[j].acc)) }
    }
}

/// One output's sum over `count` runs of `run` (their starts walked by `k`, left past
/// them): lane by lane into `t` (`run.size` accumulators), each block of
/// `lanewiseBlock` runs' lanes reduced once and pushed into `cascade`, whose total it
/// returns. Four runs per ISA sweep where a sweep covers them (sums of runs, runs times a
/// value constant along each, runs times the shared side's one run), else one at a time.
@inline(__always)
func sumLanewise<E: Element>(_ count: Int, _ qa: UnsafePointer<E>, _ qb: UnsafePointer<E>?, run: Dim,
                             k: inout Odometer, shared: SharedSide?, lanes t: UnsafeMutablePointer<E.Acc>,
                             cascade: inout Cascade<E.Acc>) -> E.Acc {
    let n = run.size
    let sweeps = qb == nil || run.a != run.b || shared != nil
    var done = 0
    while true {
        let runs = min(lanewiseBlock(n), count - done)
        t.initialize(repeating: E.Acc.zero, count: n)
        var left = runs
        while sweeps && left >= 4 {
            let (a, b) = nextFour(&k, qa, qb)
            if let b {
                if run.b == 0 {
                    add4(n, t, a, scalars: (b.0[0].acc, b.1[0].acc, b.2[0].acc, b.3[0].acc))
                } else if run.a == 0 {
                    add4(n, t, b, scalars: (a.0[0].acc, a.1[0].acc, a.2[0].acc, a.3[0].acc))
                } else if shared == .b {
                    add4(n, t, a, row: b.0)
                } else {
                    add4(n, t, b, row: a.0)
                }
            } else {
                add4(n, t, a)
            }
            left -= 4
        }
        for _ in 0..<left {
            addRun(n, qa + k.a, run.a, qb.map { $0 + k.b }, run.b, into: t)
            k.next()
        }
        let block = E.Acc.dot.map { $0(n, t, nil) }
            ?? pairwiseSum(n, block: scalarBlock) { r in r.reduce(E.Acc.zero) { E.Acc.add($0, t[$1]) } }
        done += runs
        if done < count { cascade.push(block) } else { return cascade.finish(block) }
    }
}
