// The strided loop kernel: the general fallback for steps too small or too thin for the
// packed GEMM (elementwise products, outer products, reductions, traces, permuted copies).
//
//   c[o] = alpha * sum_k a[o, k] * b[o, k]     (b absent: a one)
//
// Every index set is walked by an odometer over (size, strides) dimensions, so any layout
// (negative, zero or arbitrary strides, diagonals) is read in place.

import SwiftgramKernels

/// Loop threshold: work below this many multiply-adds stays on the calling thread.
let parallelLoopWork = 1 << 17

@inline(__always)
func asAcc<E: Element>(_ p: UnsafePointer<E>) -> UnsafePointer<E.Acc> {
    UnsafeRawPointer(p).assumingMemoryBound(to: E.Acc.self)
}

/// One row of an elementwise step: c[i*sc] = alpha * a[i*sa] * b[i*sb] (b absent: one).
/// The unit-stride and broadcast cases get loops with constant strides, which the compiler
/// vectorises; everything else takes the general strided loop.
@inline(__always)
func elementwiseRow<E: Element>(_ n: Int, _ pa: UnsafePointer<E>, _ sa: Int, _ pb: UnsafePointer<E>?, _ sb: Int,
                                _ pc: UnsafeMutablePointer<E>, _ sc: Int, _ alpha: E.Acc) {
    guard let pb else {
        if sa == 1 && sc == 1 {
            for i in 0..<n { pc[i] = E(acc: pa[i].acc.scaled(by: alpha)) }
        } else {
            for i in 0..<n { pc[i &* sc] = E(acc: pa[i &* sa].acc.scaled(by: alpha)) }
        }
        return
    }
    switch (sa, sb, sc) {
    case (1, 1, 1):
        for i in 0..<n { pc[i] = E(acc: E.Acc.mul(pa[i].acc, pb[i].acc).scaled(by: alpha)) }
    case (0, 1, 1):
        let s = pa[0].acc.scaled(by: alpha)
        for i in 0..<n { pc[i] = E(acc: E.Acc.mul(s, pb[i].acc)) }
    case (1, 0, 1):
        let s = pb[0].acc
        for i in 0..<n { pc[i] = E(acc: E.Acc.mul(pa[i].acc, s).scaled(by: alpha)) }
    case (_, _, 1):
        // Strided inputs into a contiguous row (offsets cannot overflow: they address memory).
        for i in 0..<n { pc[i] = E(acc: E.Acc.mul(pa[i &* sa].acc, pb[i &* sb].acc).scaled(by: alpha)) }
    default:
        for i in 0..<n { pc[i &* sc] = E(acc: E.Acc.mul(pa[i &* sa].acc, pb[i &* sb].acc).scaled(by: alpha)) }
    }
}

/// sum_k a[k] * b[k] over one run of the K set (b absent: one). Unit strides use the
/// ISA's vectorised (pairwise) reduction where the type has one; other runs are summed in
/// blocks combined pairwise, so no reduction's error grows linearly with its length.
@inline(__always)
func reduceRun<E: Element>(_ n: Int, _ qa: UnsafePointer<E>, _ sa: Int, _ qb: UnsafePointer<E>?, _ sb: Int,
                           dot: DotFunction<E.Acc>?) -> E.Acc {
    if let dot, sa == 1, qb == nil || sb == 1 {
        return dot(n, asAcc(qa), qb.map { asAcc($0) })
    }
    // One side constant along the run: its value times the other side's sum.
    if let qb, sb == 0 { return E.Acc.mul(reduceRun(n, qa, sa, nil, 0, dot: dot), qb[0].acc) }
    if let qb, sa == 0 { return E.Acc.mul(qa[0].acc, reduceRun(n, qb, sb, nil, 0, dot: dot)) }
    // n copies of one value (a broadcast operand): n times it, rounded once.
    if qb == nil, sa == 0 { return n == 0 ? E.Acc.zero : E.Acc.add(E.Acc.zero, qa[0].acc.repeated(n)) }
    @inline(__always) func sum(_ r: Range<Int>) -> E.Acc {
        var acc = E.Acc.zero
        if let qb {
            for p in r { acc = E.Acc.add(acc, E.Acc.mul(qa[p &* sa].acc, qb[p &* sb].acc)) }
        } else {
            for p in r { acc = E.Acc.add(acc, qa[p &* sa].acc) }
        }
        return acc
    }
    // A short run (one block) is summed in place: no call for the tiny products.
    return n <= scalarBlock ? sum(0..<n) : pairwiseSum(n, block: scalarBlock, sum)
}

/// An elementwise side that every row reads again (stride 0 along some of the row dims:
/// NumPy's suite broadcasts a (30, 40) view over 20 rows in '...,...', and the j side of
/// 'i,j' is one row read by all) but that is strided along its row: its distinct elements
/// are copied contiguous once per call (at most `limit`), so every row's loop vectorises
/// (as fast as contiguous operands; docs/performance/engine.md).
struct Compaction {
    /// The side's distinct dims, slowest first, then its row: `a` the stride in the
    /// operand, `c` the stride in the copy.
    let copy: [Dim]
    let count: Int
    /// Largest copy, in elements (it also needs to be read at least twice over).
    static let limit = 1 << 16

    init?(rowDims: [Dim], row: Dim, side: KeyPath<Dim, Int>, rows: Int) {
        let step = row[keyPath: side]
        if step == 0 || step == 1 || rows < 2 { return nil }
        let distinct = rowDims.filter { $0[keyPath: side] != 0 } + [row]
        let count = distinct.reduce(1) { $0 * $1.size }
        if count > Compaction.limit || 2 * count > rows * row.size { return nil }
        var dims = [Dim](), stride = 1
        for d in distinct.reversed() {
            dims.insert(Dim(size: d.size, a: d[keyPath: side], b: 0, c: stride), at: 0)
            stride *= d.size
        }
        (copy, self.count) = (dims, count)
    }

    /// The side's strides along `rowDims` and `row` in the copy.
    func restride(_ rowDims: inout [Dim], _ row: inout Dim, _ side: WritableKeyPath<Dim, Int>) {
        var next = copy.makeIterator()
        for k in rowDims.indices where rowDims[k][keyPath: side] != 0 { rowDims[k][keyPath: side] = next.next()!.c }
        row[keyPath: side] = 1
    }
}

extension Optional where Wrapped == Compaction {
    /// Runs body on the side's copy (or on the side itself, without a compaction).
    func copy<E>(_ x: UnsafePointer<E>?, _ body: (UnsafePointer<E>?) -> Void) {
        guard case .some(let k) = self, let x else { return body(x) }
        withUnsafeTemporaryAllocation(of: E.self, capacity: k.count) { buffer in
            let t = buffer.baseAddress!, row = k.copy.last!
            var o = Odometer(Array(k.copy.dropLast()))
            for _ in 0..<k.count / row.size {
                var (src, dst) = (x + o.a, t + o.c)
                for _ in 0..<row.size {
                    dst.initialize(to: src.pointee)
                    src += row.a
                    dst += 1
                }
                o.next()
            }
            body(UnsafePointer(t))
        }
    }
}

/// A loop-kernel step with its index sets ordered and coalesced (strides only, no data):
/// made once per layout, run on any data pointers.
struct LoopNest {
    /// The outer set as rows of its fastest dim; the K set as runs of its own fastest.
    let row: Dim, rowDims: [Dim], rows: Int
    let kRow: Dim, kDims: [Dim], kRuns: Int
    /// The whole K set, its runs' dims then the run's (what sums across a row walk).
    let kAll: [Dim]
    let reduces: Bool
    let outerCount: Int, innerCount: Int
    /// Elementwise sides copied contiguous for each call (see Compaction).
    let compactA: Compaction?, compactB: Compaction?

    init(outer: [Dim], inner: [Dim]) {
        let outer = coalesce(outer.filter { $0.size != 1 }.sorted { abs($0.c) > abs($1.c) })
        let inner = coalesce(inner.filter { $0.size != 1 }.sorted { abs($0.a) + abs($0.b) > abs($1.a) + abs($1.b) })
        outerCount = outer.reduce(1) { $0 * $1.size }
        innerCount = inner.reduce(1) { $0 * $1.size }
        row = outer.last ?? Dim(size: 1, a: 0, b: 0, c: 0)
        rowDims = Array(outer.dropLast())
        rows = outerCount / max(row.size, 1)
        kRow = inner.last ?? Dim(size: 1, a: 0, b: 0, c: 0)
        kDims = Array(inner.dropLast())
        kRuns = innerCount / max(kRow.size, 1)
        kAll = kDims + [kRow]
        reduces = !inner.isEmpty
        compactA = reduces ? nil : Compaction(rowDims: rowDims, row: row, side: \.a, rows: rows)
        compactB = reduces ? nil : Compaction(rowDims: rowDims, row: row, side: \.b, rows: rows)
    }

    func run<E: Element>(a: UnsafePointer<E>, b: UnsafePointer<E>?, c: UnsafeMutablePointer<E>, alpha: E.Acc) {
        if outerCount == 0 { return }
        guard compactA != nil || compactB != nil else {
            return run(a: a, b: b, c: c, alpha: alpha, rowDims: rowDims, row: row)
        }
        compactA.copy(a) { a in
            compactB.copy(b) { b in
                var (dims, row) = (rowDims, row)
                if let k = compactA { k.restride(&dims, &row, \.a) }
                if let k = compactB { k.restride(&dims, &row, \.b) }
                run(a: a!, b: b, c: c, alpha: alpha, rowDims: dims, row: row)
            }
        }
    }

    private func run<E: Element>(a: UnsafePointer<E>, b: UnsafePointer<E>?, c: UnsafeMutablePointer<E>, alpha: E.Acc,
                                 rowDims: [Dim], row: Dim) {
        let dot = E.self == E.Acc.self ? E.Acc.dot : nil
        // Runs per block of the pairwise sum over runs: about `scalarBlock` terms, at least 8
        // runs (each run's own sum is pairwise already).
        let runsPerBlock = max(8, scalarBlock / max(kRow.size, 1))
        // Unit-stride runs (a side may be constant along them) short enough for a buffer;
        // or longer ones where one side is the same run for all ('ji,i->': each run is
        // a row of a matrix times one vector), which the ISA's sweep adds four at a time.
        let unitRuns = b == nil ? kRow.a == 1 : (kRow.a, kRow.b) == (1, 1) || (kRow.a, kRow.b) == (0, 1) || (kRow.a, kRow.b) == (1, 0)
        let sharedSide: SharedSide? = b == nil || (kRow.a, kRow.b) != (1, 1) || E.self != E.Acc.self || E.Acc.sweep == nil ? nil
            : kDims.allSatisfy({ $0.b == 0 }) ? .b : kDims.allSatisfy({ $0.a == 0 }) ? .a : nil
        let lanewise = reduces && kRuns > 1 && unitRuns
            && (kRow.size <= lanewiseRun || (sharedSide != nil && kRow.size <= acrossLanes(accumulatorBytes: MemoryLayout<E.Acc>.stride)))

        let units = kRuns == 1 ? kRow.size : kRuns
        let across = reduces && sumsAcrossRow(row: row, kRow: kRow, hasB: b != nil)

        /// Rows [first, last), or the part `span` of each row.
        func runRows(_ first: Int, _ last: Int, _ span: Range<Int>? = nil) {
            if !reduces {
                let j = span ?? 0..<row.size
                var o = Odometer(rowDims, start: first)
                for _ in first..<last {
                    elementwiseRow(j.count, a + o.a + j.lowerBound * row.a, row.a, b.map { $0 + o.b + j.lowerBound * row.b }, row.b,
                                   c + o.c + j.lowerBound * row.c, row.c, alpha)
                    o.next()
                }
                return
            }
            if across {
                let j = span ?? 0..<row.size
                var o = Odometer(rowDims, start: first)
                for _ in first..<last {
                    let pc = c + o.c + j.lowerBound * row.c
                    reduceAcross(j.count, a + o.a + j.lowerBound * row.a, row.a, b.map { $0 + o.b + j.lowerBound * row.b }, row.b,
                                 k: kAll, terms: 0..<innerCount) { w0, sums, lanes in
                        for w in 0..<lanes { pc[(w0 + w) * row.c] = E(acc: sums[w].scaled(by: alpha)) }
                    }
                    o.next()
                }
                return
            }
            withSumBuffer { levels, t in
                var o = Odometer(rowDims, start: first)
                for _ in first..<last {
                    let pa = a + o.a, pb = b.map { $0 + o.b }, pc = c + o.c
                    for i in span ?? 0..<row.size {
                        pc[i * row.c] = E(acc: sum(pa + i * row.a, pb.map { $0 + i * row.b }, 0..<units, levels, t).scaled(by: alpha))
                    }
                    o.next()
                }
            }
        }

        /// Runs body with a buffer for `sum` (on the stack where small): the pairwise
        /// levels, then the lanes.
        func withSumBuffer(_ body: (_ levels: UnsafeMutablePointer<E.Acc>, _ t: UnsafeMutablePointer<E.Acc>) -> Void) {
            withUnsafeTemporaryAllocation(of: E.Acc.self, capacity: Cascade<E.Acc>.depth + (lanewise ? kRow.size : 0)) { buffer in
                body(buffer.baseAddress!, buffer.baseAddress! + Cascade<E.Acc>.depth)
            }
        }

        /// One output's sum over the K set's runs `part` (of `units`: the runs, or the one
        /// run's terms), its operands at qa and qb: blocks of runs summed in sequence, the
        /// blocks' sums added pairwise.
        func sum(_ qa: UnsafePointer<E>, _ qb: UnsafePointer<E>?, _ part: Range<Int>,
                 _ levels: UnsafeMutablePointer<E.Acc>, _ t: UnsafeMutablePointer<E.Acc>) -> E.Acc {
            if kRuns == 1 {
                let first = part.lowerBound
                return reduceRun(part.count, qa + first * kRow.a, kRow.a, qb.map { $0 + first * kRow.b }, kRow.b, dot: dot)
            }
            var cascade = Cascade(levels: levels)
            var k = Odometer(kDims, start: part.lowerBound)
            if lanewise {
                return sumLanewise(part.count, qa, qb, run: kRow, k: &k, shared: sharedSide, lanes: t, cascade: &cascade)
            }
            var acc = E.Acc.zero, inBlock = 0
            for _ in part {
                acc = E.Acc.add(acc, reduceRun(kRow.size, qa + k.a, kRow.a, qb.map { $0 + k.b }, kRow.b, dot: dot))
                k.next()
                inBlock += 1
                if inBlock == runsPerBlock { cascade.push(acc); (acc, inBlock) = (E.Acc.zero, 0) }
            }
            return cascade.finish(acc)
        }

        let threads = Threads.count
        let (work, overflow) = outerCount.multipliedReportingOverflow(by: max(innerCount, 1))
        let parallel = threads > 1 && (overflow || work >= parallelLoopWork)

        /// Every output's terms cut into `parts` shares, one per item of the parallel loop:
        /// `fill(p, partial)` writes share p's sums (outputs in row order), then
        /// c = alpha * each output's shares, added in order.
        func sumInParts(_ parts: Int, _ fill: (_ p: Int, _ partial: UnsafeMutablePointer<E.Acc>) -> Void) {
            withUnsafeTemporaryAllocation(of: E.Acc.self, capacity: parts * outerCount) { buffer in
                let partial = buffer.baseAddress!
                parallelFor(parts, threads: threads) { p, _ in fill(p, partial + p * outerCount) }
                var o = Odometer(rowDims)
                for r in 0..<rows {
                    for i in 0..<row.size {
                        var total = partial[r * row.size + i]
                        for p in 1..<parts { total = E.Acc.add(total, partial[p * outerCount + r * row.size + i]) }
                        c[o.c + i * row.c] = E(acc: total.scaled(by: alpha))
                    }
                    o.next()
                }
            }
        }

        if parallel && across && rows < 4 * threads && innerCount >= 2 * scalarBlock {
            // Few rows of many terms ('nhwc->c', 'ji,j->i'): each thread sweeps all the
            // outputs over its share of the terms, so it streams one contiguous part of the
            // operands (cutting the row instead walks every term in short strided pieces).
            let parts = min(threads, innerCount / scalarBlock)
            sumInParts(parts) { p, partial in
                var o = Odometer(rowDims)
                for r in 0..<rows {
                    reduceAcross(row.size, a + o.a, row.a, b.map { $0 + o.b }, row.b, k: kAll,
                                 terms: innerCount * p / parts..<innerCount * (p + 1) / parts) { w0, sums, lanes in
                        (partial + r * row.size + w0).initialize(from: sums, count: lanes)
                    }
                    o.next()
                }
            }
        } else if parallel && reduces && !across && outerCount < 4 * threads && units >= 2 * threads {
            // Few outputs of many terms ('ji,i->', 'i->'): each thread sums a share of every
            // output's runs (of the one run's terms).
            sumInParts(threads) { p, partial in
                withSumBuffer { levels, t in
                    let share = units * p / threads..<units * (p + 1) / threads
                    var o = Odometer(rowDims)
                    for r in 0..<rows {
                        for i in 0..<row.size {
                            partial[r * row.size + i] = sum(a + o.a + i * row.a, b.map { $0 + o.b + i * row.b }, share, levels, t)
                        }
                        o.next()
                    }
                }
            }
        } else if parallel && rows < (reduces ? 4 * threads : threads) && row.size > 1 {
            // Too few rows to share out evenly (NumPy's 'i,->i' is one row of 480000, a
            // matrix-vector product 'ij,j->i' one row of sums): each row is split into pieces,
            // of at least a few cache lines where summed across.
            let pieces = max(1, min((4 * threads + rows - 1) / rows, row.size / (across ? 64 : 1)))
            parallelFor(rows * pieces, threads: threads) { t, _ in
                let (r, p) = (t / pieces, t % pieces)
                runRows(r, r + 1, row.size * p / pieces..<row.size * (p + 1) / pieces)
            }
        } else if parallel && rows > 1 {
            let chunks = min(rows, 4 * threads)
            parallelFor(chunks, threads: min(threads, rows)) { t, _ in runRows(rows * t / chunks, rows * (t + 1) / chunks) }
        } else {
            runRows(0, rows)
        }
    }
}
