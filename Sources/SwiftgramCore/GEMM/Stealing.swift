// The grid schedule of one product, with work stealing. The grid cuts C into one block per
// worker (Schedule.swift); each block's owner computes it row block by row block, one phase
// (an NC x KC block of B) at a time, from panels it packs itself. A worker done with its own
// block takes a row block another has not started, with all the phases it has left, and
// packs that block's B itself. The blocks are even, so back to back a worker takes at most
// another's last row block; a worker that starts late, or shares its CPU with another
// library's spinning thread, no longer holds the call for its whole block
// (docs/performance/threads.md, "Co-tenancy").

import CSupport

/// Rows [m0, m1) x columns [n0, n1) of C, in row blocks of `mc` and phases: each NC block
/// of columns in order, each K block of `kc` within it.
struct GridBlock {
    let m0: Int, m1: Int, n0: Int, n1: Int
    let mc: Int, nc: Int, kc: Int, K: Int

    var rows: Int { m1 > m0 && n1 > n0 ? (m1 - m0 + mc - 1) / mc : 0 }
    var kBlocks: Int { (K + kc - 1) / kc }
    var phases: Int { rows == 0 ? 0 : (n1 - n0 + nc - 1) / nc * kBlocks }

    /// Row block `r`: its first row and height.
    func row(_ r: Int) -> (ic: Int, mc: Int) { (m0 + r * mc, min(mc, m1 - m0 - r * mc)) }

    /// Phase `p`: its columns (jc, nc) and K block (pc, kc).
    func phase(_ p: Int) -> (jc: Int, nc: Int, pc: Int, kc: Int) {
        let jc = n0 + p / kBlocks * nc, pc = p % kBlocks * kc
        return (jc, min(nc, n1 - jc), pc, min(kc, K - pc))
    }
}

/// What a block's owner and the workers taking from it share, in words guarded by a lock:
/// the owner's phase, the next row block it claims in that phase, and per row block
/// whether it was taken and how many of its phases are done.
struct BlockShare {
    let words: UnsafeMutablePointer<Int>
    let rows: Int

    static func words(rows: Int) -> Int { 3 + 2 * rows }

    private var lock: UnsafeMutablePointer<Int64> { UnsafeMutableRawPointer(words).assumingMemoryBound(to: Int64.self) }
    private var phase: Int { get { words[1] } nonmutating set { words[1] = newValue } }
    private var next: Int { get { words[2] } nonmutating set { words[2] = newValue } }
    private func taken(_ r: Int) -> Bool { words[3 + r] != 0 }
    private func done(_ r: Int) -> UnsafeMutablePointer<Int> { words + 3 + rows + r }

    func reset() { words.initialize(repeating: 0, count: BlockShare.words(rows: rows)) }

    private func locked<R>(_ body: () -> R) -> R {
        sg_spin_lock(lock)
        defer { sg_spin_unlock(lock) }
        return body()
    }

    /// The owner's next row block in its current phase (rows in order, taken ones skipped).
    func claim() -> Int? {
        locked {
            var r = next
            while r < rows && taken(r) { r += 1 }
            next = min(r + 1, rows)
            return r < rows ? r : nil
        }
    }

    /// The owner has computed phase `p` of row block `r`.
    func finish(_ r: Int, phase p: Int) { locked { done(r).pointee = p + 1 } }

    /// The owner moves on to its next phase.
    func advance() { locked { phase += 1; next = 0 } }

    /// A row block for a thief, and the first phase it computes: the last one the owner
    /// has not started in its phase (all its phases from there) or has finished that phase
    /// of (the rest), where taking it leaves the owner at least as much as the thief gets
    /// (counted in row-block phases not yet started); nil when nothing is worth taking.
    func take(phases: Int) -> (row: Int, start: Int)? {
        locked {
            let p = phase, n = next
            if p >= phases { return nil }
            var owned = 0, unstarted = 0
            for r in 0..<rows where !taken(r) {
                owned += 1
                if r >= n { unstarted += 1 }
            }
            let left = unstarted + (phases - p - 1) * owned
            for r in stride(from: rows - 1, through: 0, by: -1) where !taken(r) {
                let start = r >= n ? p : done(r).pointee > p ? p + 1 : phases
                let gets = phases - start
                if gets > 0 && 2 * gets <= left + 1 {
                    words[3 + r] = 1
                    return (r, start)
                }
            }
            return nil
        }
    }
}

/// Block `i` of a rows x cols grid over an M x N product: whole micro-panels of MR x NR, as
/// even as they come, in row blocks of at most `mc` (and at least 8 where there are rows
/// enough: the last ones are what a thief takes) and phases of `nc` columns x `kc` steps.
func gridBlock(_ i: Int, grid: (rows: Int, cols: Int), M: Int, N: Int, K: Int, mr MR: Int, nr NR: Int,
               mc: Int, nc: Int, kc: Int) -> GridBlock {
    let rowPanels = (M + MR - 1) / MR, colPanels = (N + NR - 1) / NR
    let (row, col) = (i / grid.cols, i % grid.cols)
    let m0 = min(M, rowPanels * row / grid.rows * MR), m1 = min(M, rowPanels * (row + 1) / grid.rows * MR)
    let n0 = min(N, colPanels * col / grid.cols * NR), n1 = min(N, colPanels * (col + 1) / grid.cols * NR)
    let limit = min(mc, max(MR, (m1 - m0) / 8))
    return GridBlock(m0: m0, m1: m1, n0: n0, n1: n1, mc: balancedBlock(max(m1 - m0, 1), limit: limit, unit: MR),
                     nc: nc, kc: kc, K: K)
}

extension Gemm {
    func gridBlock(_ i: Int, grid: (rows: Int, cols: Int)) -> GridBlock {
        SwiftgramCore.gridBlock(i, grid: grid, M: M, N: N, K: K, mr: kernel.mr, nr: kernel.nr, mc: blk.mc, nc: blk.nc,
                                kc: kBlock(K))
    }

    /// One product on the grid's `blocks` (gridBlock), one per workspace, stolen as above;
    /// `shares` holds BlockShare.words(rows:) words per block for the most rows of any.
    func grid(a: UnsafePointer<E>, b: UnsafePointer<E>, out: OutputView<E.Acc>, blocks: [GridBlock],
              accumulate: Bool, ws: [Workspace<E.Acc>], shares words: UnsafeMutablePointer<Int>) {
        let workers = ws.count
        let stride = BlockShare.words(rows: blocks.map(\.rows).max() ?? 0)
        let shares = blocks.indices.map { BlockShare(words: words + $0 * stride, rows: blocks[$0].rows) }
        for s in shares { s.reset() }
        let NR = kernel.nr

        // Phase p of row block r of `block`; `first`: the worker's B for that phase is not
        // packed yet (the first row block it computes there).
        func compute(_ block: GridBlock, _ r: Int, _ p: Int, first: Bool, _ ws: Workspace<E.Acc>) {
            let (ic, mc) = block.row(r), (jc, nc, pc, kc) = block.phase(p)
            let panels = 0..<(nc + NR - 1) / NR
            if first && !packsBInKernel { packB(b, jc: jc, nc: nc, pc: pc, kc: kc, panels: panels, into: ws.b) }
            macroKernel(a, b, ic: ic, mc: mc, jc: jc, nc: nc, pc: pc, kc: kc, panels: panels, out: out,
                        accumulate: accumulate || pc > 0, firstRowBlock: first, ws: ws)
        }

        // Items 0..<workers are the blocks, each for its owner; the rest, one per worker,
        // take from the blocks until nothing is worth taking (a helper that starts after
        // the caller claimed its block still finds work).
        parallelFor(2 * workers, threads: workers) { item, w in
            if item < workers {
                let block = blocks[item], share = shares[item]
                for p in 0..<block.phases {
                    var first = true
                    while let r = share.claim() {
                        compute(block, r, p, first: first, ws[w])
                        first = false
                        share.finish(r, phase: p)
                    }
                    share.advance()
                }
                return
            }
            // The block and phase whose B this worker's buffer holds: row blocks taken one
            // after another mostly share it.
            var packed = (block: -1, phase: -1)
            while true {
                var took: (block: Int, row: Int, start: Int)? = nil
                for j in 0..<workers {
                    let i = (item + j) % workers
                    if let t = shares[i].take(phases: blocks[i].phases) { took = (i, t.row, t.start); break }
                }
                guard let took else { return }
                let block = blocks[took.block]
                for p in took.start..<block.phases {
                    compute(block, took.row, p, first: packed != (took.block, p), ws[w])
                    packed = (took.block, p)
                }
            }
        }
    }
}
