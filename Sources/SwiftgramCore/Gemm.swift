// The packed GEMM engine (BLIS / TBLIS style) for one contraction step:
//
//   c[b, m, n] = alpha * sum_k a[b, m, k] * b[b, n, k]
//
// where each of batch, M, N and K is a *set* of labels with arbitrary strides. The M, N and
// K sets are flattened through offset tables (offset of every flattened index in each
// tensor), so packing reads the operands where they are: no permuted copy of an input is
// ever made. Packed panels feed the ISA-selected micro-kernel; rows of C are addressed
// through the table too, so any output layout is written in place.

import CSupport
import SwiftgramKernels

/// How far ahead of the run it copies a packing loop prefetches: about 8 KiB, in 8 to 32
/// k steps. Short runs need more steps to cover memory latency (the 1x224x224x64 Gram, 256 B
/// runs, 2 threads: float32 1.48 -> 1.30 ms against a fixed 8 steps, float64 2.86 -> 2.57 ms),
/// long runs fewer (2 KiB runs lost 3% at 32: the lines left L1 before they were copied).
func prefetchSteps(runBytes: Int) -> Int { max(8, min(32, 8192 / max(runBytes, 1))) }

/// Side of the square blocks the symmetric mirror copies (16 strided lines fit L1 sets).
let mirrorBlock = 16

/// Cache blocking (elements). KC x NR panels of B stay in L1 across a micro-kernel sweep,
/// MC x KC of A in L2, KC x NC of B in L3. The A block takes half of this machine's 1 MiB
/// L2: every row block streams the whole packed B block from L3 once, so fewer, larger
/// blocks save L3 traffic (1024 matmul on 2 threads: 5.5 -> 5.2 ms against 96 KiB).
/// A product (n columns) whose whole packed B still fits one such L3 block at twice the K
/// block takes that: its micro-kernel then reads B from L2 rather than L1 at no loss and
/// pays the per-tile cost (loading and storing C) half as often. Two threads, medians:
/// same-operand Grams 4x56x56x128 0.570 -> 0.558 ms, 8x28x28x256 1.031 -> 1.000 ms, float64
/// 4x56x56x128 1.089 -> 1.061 ms; 1024 matmul float32 4.45 -> 4.38 ms, float64 9.53 -> 9.41
/// ms. Wider ones keep the short block (float32 'acbd,dcfe->abef' packing all N = 1920
/// columns: 8% slower at twice the block; each of two threads packing its own 960 columns
/// takes the long one at no loss: 14.2-14.5 ms either way). A and B blocks are sized by
/// the K block actually used (k when shorter).
struct Blocking {
    let kc: Int, mc: Int, nc: Int
    init<T>(_: T.Type, mr: Int, nr: Int, n: Int, k: Int) {
        let size = MemoryLayout<T>.stride
        let base = max(64, 1024 / max(size, 4))     // 256 floats, 128 doubles
        kc = 2 * base * n * size <= 2 * 1024 * 1024 ? 2 * base : base
        let depth = max(1, min(kc, k))
        mc = max(mr, (512 * 1024 / (depth * size)) / mr * mr)
        nc = max(nr, (2 * 1024 * 1024 / (depth * size)) / nr * nr)
    }
}

/// Block size for `total` in blocks of at most `limit`, balanced so no block is a sliver
/// (784 = 4 x 196 rather than 3 x 256 + 16), rounded up to a multiple of `unit`.
func balancedBlock(_ total: Int, limit: Int, unit: Int = 1) -> Int {
    let limit = max(unit, limit / unit * unit)
    let blocks = max(1, (total + limit - 1) / limit)
    let size = (total + blocks - 1) / blocks
    return min((size + unit - 1) / unit * unit, limit)
}

/// Offsets of a flattened index set (last dim fastest) along one tensor's strides: i * step
/// when the set walks that tensor as one arithmetic progression (no memory needed, and
/// packing can use plain strides that vectorise); otherwise runs of `run` indices spaced
/// `runStep` apart (the innermost dims that do coalesce) starting at the offsets in
/// `table`, so packing still copies whole runs.
struct IndexMap: Equatable {
    let count: Int
    let step: Int?
    let table: [Int]
    let run: Int
    let runStep: Int

    /// Largest table built; bigger irregular sets go to the loop kernel instead, so no
    /// table ever grows with an operand (a huge broadcast view, say).
    static let tableLimit = 1 << 22

    init(count: Int, step: Int) {
        self.count = count
        self.step = step
        table = []
        run = max(count, 1)
        runStep = step
    }

    init?(_ dims: [Dim], _ stride: (Dim) -> Int) {
        let live = dims.filter { $0.size != 1 }
        count = live.reduce(1) { $0 * $1.size }
        // The innermost dims that walk memory as one progression form a run.
        var inner = live.count
        var runLength = 1
        while inner > 0 {
            let d = live[inner - 1]
            if inner < live.count && stride(d) != stride(live[inner]) * live[inner].size { break }
            runLength *= d.size
            inner -= 1
        }
        runStep = live.last.map(stride) ?? 0
        if inner == 0 || count == 0 {
            step = runStep
            table = []
            run = max(count, 1)
            return
        }
        step = nil
        run = runLength
        if count / run > IndexMap.tableLimit { return nil }
        var t = [0]
        for d in live[..<inner] {
            let sd = stride(d)
            var next = [Int]()
            next.reserveCapacity(t.count * d.size)
            for base in t { for i in 0..<d.size { next.append(base + i * sd) } }
            t = next
        }
        table = t
    }

    @inline(__always) subscript(i: Int) -> Int {
        if let step { return i &* step }
        return table[i / run] + (i % run) * runStep
    }

    /// The lowest and highest offsets of indices [from, from+count) (count > 0).
    func span(from: Int, count: Int) -> (Int, Int) {
        var (lo, hi) = (Int.max, Int.min)
        forEachRun(from: from, count: count) { off, st, _, len in
            let last = off + (len - 1) * st
            (lo, hi) = (min(lo, off, last), max(hi, off, last))
        }
        return (lo, hi)
    }

    /// The step between indices [from, from+count) when they form one progression.
    func progression(from: Int, count: Int) -> Int? {
        if let step { return step }
        return from % run + count <= run ? runStep : nil
    }

    /// Groups of whole runs within indices [from, from+count) that start one element
    /// apart in memory, each as wide as the widest of `widths` that fits there (in order:
    /// the first run and the index of its width): a group of w runs forms w x w blocks, w
    /// elements contiguous across the runs.
    func adjacentRuns(from: Int, count: Int, widths: [Int]) -> [(first: Int, width: Int)] {
        guard step == nil else { return [] }
        var groups = [(first: Int, width: Int)]()
        var j = (from + run - 1) / run
        let end = (from + count) / run
        while j < end {
            if let k = widths.indices.first(where: { k in
                j + widths[k] <= end && (1..<widths[k]).allSatisfy { table[j + $0] == table[j] + $0 }
            }) {
                groups.append((j, k))
                j += widths[k]
            } else {
                j += 1
            }
        }
        return groups
    }

    /// Calls body(offset, step, position, length) for the runs covering [from, from+count):
    /// `position` counts from `from`.
    @inline(__always) func forEachRun(from: Int, count: Int, _ body: (Int, Int, Int, Int) -> Void) {
        if let step {
            body(from &* step, step, 0, count)
            return
        }
        var done = 0
        while done < count {
            let i = from + done
            let inRun = i % run
            let length = min(run - inRun, count - done)
            body(table[i / run] + inRun * runStep, runStep, done, length)
            done += length
        }
    }
}

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
            // Short k runs (under 1 KiB; the hardware prefetcher follows longer ones): the
            // next panel's rows, each run fetched while this panel's copy of it runs (A of
            // 'acbd,dcfe->abef', float32, 256 B runs: 5.0 -> 2.2% of the profile; on 2 KiB
            // runs the prefetches cost a 256x512x384 product up to 25%).
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
    // left over); the rest element by element. B of 'acbd,dcfe->abef', float32 (20 runs a
    // thread): 5.5 -> 3.4% of the profile at 16 lanes, 3.9 -> 3.5% with its 4 leftover
    // runs at 4 lanes; a contiguous dimension narrower than the vector width (e = 12, say)
    // is covered too.
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

struct GemmProblem {
    var batch: [Dim]
    var m: [Dim]   // a and c strides
    var n: [Dim]   // b and c strides
    var k: [Dim]   // a and b strides
}

/// Where a macro-kernel writes, and with what scale: rows and columns of C through offset
/// tables. `direct` means the micro-kernel may store straight into C (same element type,
/// uniform columns); otherwise it goes through a tile and a converting scatter.
struct OutputView<T> {
    let base: UnsafeMutableRawPointer
    let rows: IndexMap
    let cols: IndexMap
    let direct: Bool
    let alpha: T
}

/// Per-worker scratch: packed A block, packed B panel, one micro-tile, row offsets.
struct Workspace<T> {
    let a: UnsafeMutablePointer<T>
    let b: UnsafeMutablePointer<T>
    let tile: UnsafeMutablePointer<T>
}

/// One GEMM-shaped contraction step, prepared: offset tables, kernel, blocking.
struct Gemm<E: Element> {
    let kernel: Microkernel<E.Acc>
    let blk: Blocking
    let aRows: IndexMap, aK: IndexMap, bRows: IndexMap, bK: IndexMap
    let cRows: IndexMap, cCols: IndexMap
    let aRowsOuter: Bool, bRowsOuter: Bool
    /// A (B) already has the panel layout (unit-stride rows, uniform k stride): full panels
    /// are read in place by the micro-kernel instead of being packed.
    let aInPlace: Bool, bInPlace: Bool
    /// Symmetric product with B packed, MR dividing NR: A's rows are B's columns, so A's
    /// micro-panels are read out of B's packed panels and A is never packed.
    let aFromB: Bool
    let M: Int, N: Int, K: Int
    /// C = A * A^T on the same memory: only tiles on or above the diagonal are computed.
    let symmetric: Bool

    /// Whether B's panels are packed by the first tiles that read them (see Tile.bCopy)
    /// rather than in a pass of their own: where B can be read in place with its k rows at
    /// most 512 B apart. The copy's loads then overlap that tile's FMAs, and the first
    /// panel's tile fetches whole rows, so the operand is still read in one sequential pass.
    /// Two threads, alternating processes, medians: same-operand Grams 4x56x56x128 0.61 ->
    /// 0.54 ms, 1x224x224x64 0.72 -> 0.61 ms (float64 1.47 -> 1.28 ms), distinct 4x56x56x128
    /// 1.01 -> 1.00 ms. Rows further apart crowd the few L1 sets their stride maps to (1 KiB
    /// apart, the same-operand 8x28x28x256 Gram: 6% of its time packing in a pass, 6-11%
    /// extra in the tiles that would pack).
    var packsBInKernel: Bool {
        guard E.self == E.Acc.self, !bInPlace, let k = bK.step else { return false }
        return abs(k) * MemoryLayout<E>.stride <= 512
    }

    /// A full panel read where it lies in operand `x` (unit-stride rows from `row`, a uniform
    /// k step from `k0`): its start and its k step.
    @inline(__always)
    func inPlace(_ x: UnsafePointer<E>, rows: IndexMap, _ row: Int, ks: IndexMap, _ k0: Int) -> (UnsafePointer<E.Acc>, Int) {
        (UnsafeRawPointer(x + rows[row] + ks[k0]).assumingMemoryBound(to: E.Acc.self), ks.step!)
    }

    /// Packs B panels [p0, p1) (in units of NR columns) of the block (jc, nc) x (pc, kc).
    func packB(_ b: UnsafePointer<E>, jc: Int, nc: Int, pc: Int, kc: Int, panels: Range<Int>,
               into buf: UnsafeMutablePointer<E.Acc>) {
        let NR = kernel.nr
        let c0 = panels.lowerBound * NR, c1 = min(nc, panels.upperBound * NR)
        if c0 >= c1 { return }
        pack(b, rows: bRows, r0: jc + c0, ks: bK, k0: pc, count: c1 - c0, kc: kc, R: NR,
             rowsOuter: bRowsOuter, onlyPartial: bInPlace, transposes: kernel.transposes, into: buf + c0 * kc)
    }

    /// Rows [ic, ic+mc) x columns [jc + panels) of C for one K block, from packed panels.
    /// For the first row block of a K block (`firstRowBlock`) where B is packed in the kernel
    /// (packsBInKernel), B's panels are not packed yet: each is packed by its first tile
    /// (see Tile.bCopy) where it can be read in place, else before its first tile.
    func macroKernel(_ a: UnsafePointer<E>, _ b: UnsafePointer<E>, ic: Int, mc: Int, jc: Int, nc: Int, pc: Int, kc: Int,
                     panels: Range<Int>, out: OutputView<E.Acc>, accumulate: Bool, firstRowBlock: Bool = false,
                     ws: Workspace<E.Acc>) {
        let MR = kernel.mr, NR = kernel.nr
        let packingB = firstRowBlock && packsBInKernel
        if symmetric && !packingB && jc + min(nc, panels.upperBound * NR) <= ic { return }  // below diagonal
        let aFromB = aFromB && ic >= jc && ic + mc <= jc + nc
        if !aFromB {
            pack(a, rows: aRows, r0: ic, ks: aK, k0: pc, count: mc, kc: kc, R: MR, rowsOuter: aRowsOuter,
                 onlyPartial: aInPlace, transposes: kernel.transposes, into: ws.a)
        }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: mc + MR + NR) { offs in
            // The block's row offsets in C, looked up once rather than per tile.
            let rowOff = offs.baseAddress!, tileRows = rowOff + mc, colOff = tileRows + MR
            if out.direct { for i in 0..<mc { rowOff[i] = out.rows[ic + i] } }
            for i in 0..<MR { tileRows[i] = i * NR }
            for panel in panels {
                let jr = panel * NR
                if jr >= nc { break }
                let nr = min(NR, nc - jr)
                var unpacked = packingB  // packsBInKernel implies !bInPlace
                var ir = 0
                while ir < mc {
                    let mr = min(MR, mc - ir)
                    // Symmetric: skip tiles strictly below the diagonal (mirrored afterwards),
                    // and compute only the right half of a tile whose left half is below it.
                    if symmetric && jc + jr + nr <= ic + ir { ir += MR; continue }
                    let narrow = symmetric && nr > NR / 2 && jc + jr + NR / 2 <= ic + ir && kernel.narrow != nil
                    let c0 = narrow ? NR / 2 : 0
                    var (pa, aStep) = (UnsafePointer(ws.a + ir * kc), MR)
                    if aFromB {
                        // Rows r..<r+MR are columns of one packed B panel (MR divides NR).
                        let r = ic + ir - jc
                        (pa, aStep) = (UnsafePointer(ws.b + r / NR * NR * kc + r % NR), NR)
                    } else if aInPlace && mr == MR {
                        (pa, aStep) = inPlace(a, rows: aRows, ic + ir, ks: aK, pc)
                    }
                    var (pb, bStep) = (UnsafePointer(ws.b + jr * kc), NR)
                    var bCopy: UnsafeMutablePointer<E.Acc>? = nil, bFetch = 0
                    if bInPlace && nr == NR {
                        (pb, bStep) = inPlace(b, rows: bRows, jc + jr, ks: bK, pc)
                    } else if unpacked {
                        unpacked = false
                        // The panel's first tile: it reads B in place (packsBInKernel: a
                        // uniform k step, no conversion) and packs it, where the panel's columns
                        // are contiguous and it computes all of them (A out of this very panel
                        // is read in place too: aK is bK).
                        let ownA = aFromB && (ic + ir - jc) / NR == panel
                        if !narrow, nr == NR, bRows.progression(from: jc + jr, count: NR) == 1,
                           !ownA || (mr == MR && aRows.progression(from: ic + ir, count: MR) == 1) {
                            (pb, bStep) = inPlace(b, rows: bRows, jc + jr, ks: bK, pc)
                            bCopy = ws.b + jr * kc
                            // The first panel's tile fetches the whole row of the block where it
                            // is contiguous, in one sequential pass for the panels after it.
                            let rest = nc - jr
                            bFetch = (jr == 0 && bRows.progression(from: jc, count: rest) == 1 ? rest : NR)
                                * MemoryLayout<E>.stride
                            if ownA { (pa, aStep) = inPlace(a, rows: aRows, ic + ir, ks: aK, pc) }
                        } else {
                            packB(b, jc: jc, nc: nc, pc: pc, kc: kc, panels: panel..<panel + 1, into: ws.b)
                        }
                    }
                    // The tile's computed columns: [j0, j0 + ncols) of this block.
                    let (j0, ncols) = (jr + c0, nr - c0)
                    pb += c0
                    if out.direct {
                        kernel.call(narrow: narrow, Tile(kc: kc, a: pa, aStep: aStep, b: pb, bStep: bStep,
                                                         c: out.base.assumingMemoryBound(to: E.Acc.self) + out.cols[jc + j0],
                                                         rowOff: rowOff + ir,
                                                         cs: out.cols.step ?? 1, mr: mr, nr: ncols, alpha: out.alpha,
                                                         accumulate: accumulate, bCopy: bCopy, bFetch: bFetch))
                    } else {
                        kernel.call(narrow: narrow, Tile(kc: kc, a: pa, aStep: aStep, b: pb, bStep: bStep, c: ws.tile,
                                                         rowOff: tileRows, cs: 1, mr: mr, nr: ncols, alpha: E.Acc.one,
                                                         accumulate: false, bCopy: bCopy, bFetch: bFetch))
                        let c = out.base.assumingMemoryBound(to: E.self)
                        for j in 0..<ncols { colOff[j] = out.cols[jc + j0 + j] }
                        for i in 0..<mr {
                            let row = c + out.rows[ic + ir + i]
                            for j in 0..<ncols {
                                let dst = row + colOff[j]
                                let v = E.Acc.mul(out.alpha, ws.tile[i * NR + j])
                                dst.pointee = E(acc: accumulate ? E.Acc.add(dst.pointee.acc, v) : v)
                            }
                        }
                    }
                    ir += MR
                }
                // No tile of this block computed the panel: later row blocks still read it.
                if unpacked { packB(b, jc: jc, nc: nc, pc: pc, kc: kc, panels: panel..<panel + 1, into: ws.b) }
            }
        }
    }

    /// The product for rows [m0, m1), columns [n0, n1) and K range [k0, k1) on one thread;
    /// with `accumulate` the result is added to what `out` holds (K-split partial sums).
    func serial(a: UnsafePointer<E>, b: UnsafePointer<E>, out: OutputView<E.Acc>, m0: Int, m1: Int,
                n0: Int = 0, n1: Int? = nil, k0: Int, k1: Int, accumulate: Bool = false, ws: Workspace<E.Acc>) {
        let NR = kernel.nr, n1 = n1 ?? N
        if m0 >= m1 || n0 >= n1 { return }
        let kcStep = balancedBlock(k1 - k0, limit: blk.kc)
        let mcStep = balancedBlock(m1 - m0, limit: blk.mc, unit: kernel.mr)
        var jc = n0
        while jc < n1 {
            let nc = min(blk.nc, n1 - jc)
            var pc = k0
            while pc < k1 {
                let kc = min(kcStep, k1 - pc)
                if !packsBInKernel {
                    packB(b, jc: jc, nc: nc, pc: pc, kc: kc, panels: 0..<(nc + NR - 1) / NR, into: ws.b)
                }
                var ic = m0
                while ic < m1 {
                    let mc = min(mcStep, m1 - ic)
                    macroKernel(a, b, ic: ic, mc: mc, jc: jc, nc: nc, pc: pc, kc: kc, panels: 0..<(nc + NR - 1) / NR,
                                out: out, accumulate: accumulate || pc > k0, firstRowBlock: ic == m0, ws: ws)
                    ic += mc
                }
                pc += kc
            }
            jc += nc
        }
    }

    /// All threads on one symmetric product: B panels packed together, then row blocks
    /// handed out to whichever thread is free (a triangle's row blocks differ in work, and
    /// A's panels are read out of the shared packed B).
    func cooperative(a: UnsafePointer<E>, b: UnsafePointer<E>, out: OutputView<E.Acc>, workers: Int,
                     ws: [Workspace<E.Acc>], sharedB: UnsafeMutablePointer<E.Acc>) {
        let MR = kernel.mr, NR = kernel.nr
        let kcStep = balancedBlock(K, limit: blk.kc)
        // Row blocks of whole MR panels, at most mc rows: at least 4 per worker (the
        // triangle's blocks differ in work; a late thread still finds work), a multiple of
        // the workers in number, of nearly equal size (11 blocks on 2 threads would idle one
        // for a block).
        let rowPanels = (M + MR - 1) / MR, mcPanels = max(1, blk.mc / MR)
        let rowBlocks = min(rowPanels, (max((rowPanels + mcPanels - 1) / mcPanels, 4 * workers) + workers - 1) / workers * workers)
        var jc = 0
        while jc < N {
            let nc = min(blk.nc, N - jc)
            let panels = (nc + NR - 1) / NR
            let packItems = min(panels, 2 * workers)
            var pc = 0
            while pc < K {
                let kc = min(kcStep, K - pc)
                parallelFor(packItems, threads: workers) { i, _ in
                    packB(b, jc: jc, nc: nc, pc: pc, kc: kc, panels: panels * i / packItems..<panels * (i + 1) / packItems,
                          into: sharedB)
                }
                parallelFor(rowBlocks, threads: workers) { i, w in
                    let ic = min(M, rowPanels * i / rowBlocks * MR), end = min(M, rowPanels * (i + 1) / rowBlocks * MR)
                    macroKernel(a, b, ic: ic, mc: end - ic, jc: jc, nc: nc, pc: pc, kc: kc, panels: 0..<panels,
                                out: out, accumulate: pc > 0, ws: Workspace(a: ws[w].a, b: sharedB, tile: ws[w].tile))
                }
                pc += kc
            }
            jc += nc
        }
    }

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

extension Microkernel {
    /// Runs the narrow form when asked (the caller checked it exists), without building an
    /// optional closure per tile (that allocates).
    @inline(__always) func call(narrow: Bool, _ t: Tile<T>) {
        if narrow, let n = self.narrow { n(t) } else { run(t) }
    }
}

/// Whether panels can be read where they are: unit-stride rows, uniform k stride, no type
/// conversion, k steps short enough that a panel's rows do not alias much in L1 (a
/// power-of-two step maps every row into a few cache sets), and few micro-kernel calls
/// (`reuse`) reading each panel: in place, every call streams the panel from L2; packed,
/// from L1. Since packing prefetches, in place only wins for the symmetric product when
/// A cannot be read out of B's packed panels (6-row kernels), where it saves packing the
/// same data twice. Measured (float32, 2 threads, 6-row AVX-512 kernel): 1x224x224x64 same
/// 0.83 against 1.5 ms (B panels read by 11 row tiles), 4x56x56x128 same 0.69 in place
/// against 0.64 ms with B packed (22 row tiles); distinct operands pack faster (one core:
/// 2.3 against 2.8 ms, 3.5 against 3.8 ms). With A read from packed B (8-row kernel),
/// packing B wins even at 8 row tiles: 1x224x224x64 same 0.73 -> 0.70 ms, float64
/// 1.82 -> 1.40 ms.
func readsInPlace<E: Element>(_: E.Type, rows: IndexMap, ks: IndexMap, reuse: Int) -> Bool {
    guard E.self == E.Acc.self, rows.step == 1, let k = ks.step else { return false }
    return abs(k) * MemoryLayout<E>.stride <= 512 && reuse < 16
}

/// The layout half of a GEMM step, independent of data and element type: the index sets
/// ordered and flattened into offset tables. Made once per layout of the operands.
struct GemmLayout {
    let aRows: IndexMap, aK: IndexMap, bRows: IndexMap, bK: IndexMap
    let cRows: IndexMap, cCols: IndexMap
    let batch: [Dim]
    let nb: Int
    /// Pack along whichever index is contiguous in memory.
    let aRowsOuter: Bool, bRowsOuter: Bool

    /// nil when an index set is too irregular and too large for offset tables (the step
    /// then runs on the loop kernel).
    init?(_ problem: GemmProblem) {
        // M and N follow C's layout, so C's columns are one progression wherever they can be
        // (the micro-kernel then stores straight into C); packing copes with any order.
        let mDims = problem.m.sorted { abs($0.c) != abs($1.c) ? abs($0.c) > abs($1.c) : abs($0.a) > abs($1.a) }
        let nDims = problem.n.sorted { abs($0.c) != abs($1.c) ? abs($0.c) > abs($1.c) : abs($0.b) > abs($1.b) }
        // K order: an operand whose rows are contiguous packs well whatever the K order, so
        // walk K in the other operand's memory order; otherwise an index contiguous in
        // either operand goes innermost (that operand's packing then streams; e.g.
        // 'acbd,dcfe->abef' walks A's d), then both together.
        let aRowsUnit = mDims.last.map { abs($0.a) == 1 } ?? false
        let bRowsUnit = nDims.last.map { abs($0.b) == 1 } ?? false
        let kDims = problem.k.sorted {
            if bRowsUnit && !aRowsUnit { return abs($0.a) > abs($1.a) }
            if aRowsUnit && !bRowsUnit { return abs($0.b) > abs($1.b) }
            let (u0, u1) = (min(abs($0.a), abs($0.b)) == 1, min(abs($1.a), abs($1.b)) == 1)
            return u0 != u1 ? u1 : abs($0.a) + abs($0.b) > abs($1.a) + abs($1.b)
        }
        guard let aRows = IndexMap(mDims, { $0.a }), let aK = IndexMap(kDims, { $0.a }),
              let bRows = IndexMap(nDims, { $0.b }), let bK = IndexMap(kDims, { $0.b }),
              let cRows = IndexMap(mDims, { $0.c }), let cCols = IndexMap(nDims, { $0.c }) else { return nil }
        (self.aRows, self.aK, self.bRows, self.bK, self.cRows, self.cCols) = (aRows, aK, bRows, bK, cRows, cCols)
        batch = problem.batch.filter { $0.size != 1 }
        nb = batch.reduce(1) { $0 * $1.size }
        let K = aK.count
        func rowsOuter(_ rows: IndexMap, _ ks: IndexMap) -> Bool {
            K > 1 && (rows.count == 1 || abs(ks[1] - ks[0]) < abs(rows[1] - rows[0]))
        }
        aRowsOuter = rowsOuter(aRows, aK)
        bRowsOuter = rowsOuter(bRows, bK)
    }

    /// Offset-table entries held (what keeping this layout costs in memory).
    var tableEntries: Int {
        [aRows, aK, bRows, bK, cRows, cCols].reduce(0) { $0 + $1.table.count }
    }
}

/// The grid of blocks of C that one product is cut into, a block per worker, each computed
/// by its worker alone from its own packed panels: no packed panel or line of C passes
/// between cores and the threads meet only at the end. Sharing packed B instead (each
/// thread packs part of it, every thread reads all of it, two barriers per K block) packs
/// less, but this host sometimes places the two virtual CPUs far apart (a core-to-core
/// round trip of ~400 ns instead of ~100 ns) for minutes, and then every shared line costs.
/// Two threads, alternating processes, medians, shared -> grid: placed far apart, float32
/// 'acbd,dcfe->abef' 16.6 -> 13.9 ms, float64 34.8 -> 28.9 ms, 1024 matmul float32 4.99 ->
/// 4.72 ms, float64 11.3 -> 10.0 ms; placed close, 13.7 -> 13.5, 27.5 -> 27.5, 4.48 -> 4.55,
/// 9.37 -> 9.51 ms (the matmul packs A twice). Rows x cols = workers with the least
/// duplicated packing: each worker packs its rows of A and its columns of B, cols * M +
/// rows * N elements per K step.
func gemmGrid(workers: Int, M: Int, N: Int) -> (rows: Int, cols: Int) {
    var best = (rows: 1, cols: workers)
    for rows in 1...workers where workers % rows == 0 {
        let cols = workers / rows
        if cols * M + rows * N < best.cols * M + best.rows * N { best = (rows, cols) }
    }
    return best
}

/// Runs one step on the packed GEMM engine.
func gemmKernel<E: Element>(a: UnsafePointer<E>, b: UnsafePointer<E>, c: UnsafeMutablePointer<E>,
                            layout l: GemmLayout, alpha: E.Acc) throws(EinsumError) {
    let kernel = E.Acc.microkernel
    let MR = kernel.mr, NR = kernel.nr
    let (aRows, aK, bRows, bK, cRows, cCols) = (l.aRows, l.aK, l.bRows, l.bK, l.cRows, l.cCols)
    let M = cRows.count, N = cCols.count, K = aK.count
    let batch = l.batch, nb = l.nb
    if M == 0 || N == 0 || nb == 0 { return }
    if K == 0 {
        // Empty sum: the result is zero.
        var o = Odometer(batch)
        for _ in 0..<nb {
            for i in 0..<M { for j in 0..<N { c[o.c + cRows[i] + cCols[j]] = E(acc: E.Acc.zero) } }
            o.next()
        }
        return
    }
    let symmetric = a == b && M == N && aRows == bRows && aK == bK
        && batch.allSatisfy { $0.a == $0.b }
    let threads = Threads.count
    let flops = Double(nb) * Double(M) * Double(N) * Double(K)
    let workers = flops < 1e5 ? 1 : threads
    let whole = Blocking(E.Acc.self, mr: MR, nr: NR, n: N, k: K)
    // K split: a small output over a long sum (e.g. one 64x64 Gram over 224x224 pixels).
    let kSplit = nb < workers && M * N <= 128 * 128 && K >= 8 * workers * whole.kc
    // Fewer products than threads: a grid of C blocks (see gemmGrid), or for a symmetric
    // product the threads share its packed B (A is read out of it).
    let splitsOne = nb < workers && !kSplit
    let cooperative = splitsOne && symmetric
    let grid = splitsOne && !symmetric ? gemmGrid(workers: workers, M: M, N: N) : nil
    let rowPanels = (M + MR - 1) / MR, colPanels = (N + NR - 1) / NR
    // A grid worker packs only its own columns of B: the blocking follows that width.
    let packedCols = grid.map { (colPanels + $0.cols - 1) / $0.cols * NR } ?? colPanels * NR
    let blk = grid == nil ? whole : Blocking(E.Acc.self, mr: MR, nr: NR, n: packedCols, k: K)
    // Symmetric: B packed and A read out of it where MR divides NR, else each operand in
    // place where that beats packing it (see readsInPlace).
    let aFromB = symmetric && NR % MR == 0, eachInPlace = symmetric && !aFromB
    let g = Gemm<E>(kernel: kernel, blk: blk, aRows: aRows, aK: aK,
                    bRows: bRows, bK: bK, cRows: cRows, cCols: cCols,
                    aRowsOuter: l.aRowsOuter, bRowsOuter: l.bRowsOuter,
                    aInPlace: eachInPlace && readsInPlace(E.self, rows: aRows, ks: aK, reuse: (min(N, blk.nc) + NR - 1) / NR),
                    bInPlace: eachInPlace && readsInPlace(E.self, rows: bRows, ks: bK, reuse: (min(M, blk.mc) + MR - 1) / MR),
                    aFromB: aFromB, M: M, N: N, K: K, symmetric: symmetric)
    let kcMax = min(blk.kc, K)
    let aSize = min(blk.mc, rowPanels * MR) * kcMax, bSize = min(blk.nc, packedCols) * kcMax
    let partial = kSplit ? M * N : 0
    let perWorker = aSize + bSize + MR * NR + partial
    let work = try allocate(E.Acc.self, count: perWorker * workers + (cooperative ? bSize : 0), what: "GEMM packing buffers")
    defer { deallocate(work) }
    let ws = (0..<workers).map { w in
        Workspace(a: work + w * perWorker, b: work + w * perWorker + aSize, tile: work + w * perWorker + aSize + bSize)
    }
    let sharedB = work + workers * perWorker
    let direct = E.self == E.Acc.self && cCols.step != nil

    do {
        func view(_ o: Odometer) -> OutputView<E.Acc> {
            OutputView(base: UnsafeMutableRawPointer(c + o.c), rows: cRows, cols: cCols, direct: direct, alpha: alpha)
        }
        if nb >= workers || workers == 1 {
            parallelFor(nb, threads: workers) { bi, w in
                let o = Odometer(batch, start: bi)
                g.serial(a: a + o.a, b: b + o.b, out: view(o), m0: 0, m1: M, k0: 0, k1: K, ws: ws[w])
                if symmetric { g.mirror(c + o.c, rows: 0..<M) }  // while this product is in cache
            }
        } else if let grid {
            var o = Odometer(batch)
            for _ in 0..<nb {
                let at = o
                parallelFor(workers, threads: workers) { i, w in
                    let (row, col) = (i / grid.cols, i % grid.cols)
                    g.serial(a: a + at.a, b: b + at.b, out: view(at),
                             m0: min(M, rowPanels * row / grid.rows * MR), m1: min(M, rowPanels * (row + 1) / grid.rows * MR),
                             n0: min(N, colPanels * col / grid.cols * NR), n1: min(N, colPanels * (col + 1) / grid.cols * NR),
                             k0: 0, k1: K, ws: ws[w])
                }
                o.next()
            }
        } else if kSplit {
            // Each thread sums the K chunks it takes into its own buffer; then one reduction.
            let chunks = 4 * workers
            var o = Odometer(batch)
            for _ in 0..<nb {
                for w in 0..<workers { (ws[w].tile + MR * NR).initialize(repeating: E.Acc.zero, count: M * N) }
                parallelFor(chunks, threads: workers) { i, w in
                    let k0 = K * i / chunks, k1 = K * (i + 1) / chunks
                    // Partial sums are unscaled; alpha is applied once, in the reduction.
                    let out = OutputView(base: UnsafeMutableRawPointer(ws[w].tile + MR * NR),
                                         rows: IndexMap(count: M, step: N), cols: IndexMap(count: N, step: 1),
                                         direct: true, alpha: E.Acc.one)
                    g.serial(a: a + o.a, b: b + o.b, out: out, m0: 0, m1: M, k0: k0, k1: k1, accumulate: true, ws: ws[w])
                }
                let cc = c + o.c
                for i in 0..<M {
                    // Symmetric: only the upper triangle was summed; it fills both halves.
                    for j in (symmetric ? i : 0)..<N {
                        var s = E.Acc.zero
                        for w in 0..<workers { s = E.Acc.add(s, ws[w].tile[MR * NR + i * N + j]) }
                        let v = E(acc: E.Acc.mul(alpha, s))
                        cc[cRows[i] + cCols[j]] = v
                        if symmetric { cc[cRows[j] + cCols[i]] = v }
                    }
                }
                o.next()
            }
        } else {
            var o = Odometer(batch)
            for _ in 0..<nb {
                g.cooperative(a: a + o.a, b: b + o.b, out: view(o), workers: workers, ws: ws, sharedB: sharedB)
                if symmetric { g.mirror(c + o.c, workers: workers) }
                o.next()
            }
        }
    }
}
