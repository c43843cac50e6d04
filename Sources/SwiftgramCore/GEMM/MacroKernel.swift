// The packed GEMM engine (BLIS / TBLIS style) for one contraction step:
//
//   c[b, m, n] = alpha * sum_k a[b, m, k] * b[b, n, k]
//
// where each of batch, M, N and K is a *set* of labels with arbitrary strides. The M, N and
// K sets are flattened through offset tables (IndexMap), so packing reads the operands
// where they are: no permuted copy of an input is ever made. Packed panels feed the
// ISA-selected micro-kernel; rows of C are addressed through the table too, so any output
// layout is written in place. This file: the prepared step (Gemm), its macro-kernel and
// its serial and cooperative loops over blocks.

import CSupport
import SwiftgramKernels

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

    /// Panel slots per K block of kc steps: half as many for a kernel over pairs of k
    /// (Microkernel.pairs), an odd last step padded with zero.
    @inline(__always) func slots(_ kc: Int) -> Int { kernel.pairs ? (kc + 1) / 2 : kc }

    /// The K block for a range of `k` steps: at most the blocking's, balanced, and even for
    /// a kernel over pairs (only a range's last block pads a pair).
    func kBlock(_ k: Int) -> Int { balancedBlock(k, limit: blk.kc, unit: kernel.pairs ? 2 : 1) }

    /// Packs rows [r0, r0 + count) x k [k0, k0 + kc) of an operand into micro-panels of R
    /// rows, in the kernel's panel layout (pairs of k or single steps).
    @inline(__always)
    func packPanels(_ x: UnsafePointer<E>, rows: IndexMap, r0: Int, ks: IndexMap, k0: Int, count: Int, kc: Int, R: Int,
                    rowsOuter: Bool, onlyPartial: Bool, into dst: UnsafeMutablePointer<E.Acc>) {
        if let interleave = kernel.interleave {
            // Only bfloat16 selects a pair kernel (Element.pairKernel): 16-bit values, and
            // the kernel's float32 slots hold their pairs.
            packPairs(UnsafeRawPointer(x).assumingMemoryBound(to: UInt16.self), rows: rows, r0: r0, ks: ks, k0: k0,
                      count: count, kc: kc, R: R, rowsOuter: rowsOuter, interleave: interleave,
                      transposes: kernel.transposes, into: UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt32.self))
        } else {
            pack(x, rows: rows, r0: r0, ks: ks, k0: k0, count: count, kc: kc, R: R, rowsOuter: rowsOuter,
                 onlyPartial: onlyPartial, transposes: kernel.transposes, into: dst)
        }
    }

    /// Whether B's panels are packed by the first tiles that read them (see Tile.bCopy)
    /// rather than in a pass of their own: where B can be read in place with its k rows at
    /// most 512 B apart. The copy's loads then overlap that tile's FMAs, and the first
    /// panel's tile fetches whole rows, so the operand is still read in one sequential pass.
    /// Rows further apart would crowd the few L1 sets their stride maps to (measurements:
    /// docs/performance/engine.md).
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
        packPanels(b, rows: bRows, r0: jc + c0, ks: bK, k0: pc, count: c1 - c0, kc: kc, R: NR,
                   rowsOuter: bRowsOuter, onlyPartial: bInPlace, into: buf + c0 * slots(kc))
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
        let steps = slots(kc)  // panel slots of this K block
        // A 16-bit C with contiguous rows, written (not added to): each tile row rounded
        // into it as one vector run, alpha applied by the kernel.
        let rounding = !out.direct && !accumulate && out.cols.step == 1 ? E.conversions.narrow : nil
        if symmetric && !packingB && jc + min(nc, panels.upperBound * NR) <= ic { return }  // below diagonal
        let aFromB = aFromB && ic >= jc && ic + mc <= jc + nc
        if !aFromB {
            packPanels(a, rows: aRows, r0: ic, ks: aK, k0: pc, count: mc, kc: kc, R: MR, rowsOuter: aRowsOuter,
                       onlyPartial: aInPlace, into: ws.a)
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
                    var (pa, aStep) = (UnsafePointer(ws.a + ir * steps), MR)
                    if aFromB {
                        // Rows r..<r+MR are columns of one packed B panel (MR divides NR).
                        let r = ic + ir - jc
                        (pa, aStep) = (UnsafePointer(ws.b + r / NR * NR * steps + r % NR), NR)
                    } else if aInPlace && mr == MR {
                        (pa, aStep) = inPlace(a, rows: aRows, ic + ir, ks: aK, pc)
                    }
                    var (pb, bStep) = (UnsafePointer(ws.b + jr * steps), NR)
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
                            bCopy = ws.b + jr * steps
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
                        kernel.call(narrow: narrow, Tile(kc: steps, a: pa, aStep: aStep, b: pb, bStep: bStep,
                                                         c: out.base.assumingMemoryBound(to: E.Acc.self) + out.cols[jc + j0],
                                                         rowOff: rowOff + ir,
                                                         cs: out.cols.step ?? 1, mr: mr, nr: ncols, alpha: out.alpha,
                                                         accumulate: accumulate, bCopy: bCopy, bFetch: bFetch))
                    } else if let rounding {
                        kernel.call(narrow: narrow, Tile(kc: steps, a: pa, aStep: aStep, b: pb, bStep: bStep, c: ws.tile,
                                                         rowOff: tileRows, cs: 1, mr: mr, nr: ncols, alpha: out.alpha,
                                                         accumulate: false, bCopy: bCopy, bFetch: bFetch))
                        let c = UnsafeMutableRawPointer(out.base.assumingMemoryBound(to: E.self) + out.cols[jc + j0])
                        let tile = UnsafeRawPointer(ws.tile).assumingMemoryBound(to: Float.self)
                        for i in 0..<mr {
                            rounding(tile + i * NR, (c + out.rows[ic + ir + i] * MemoryLayout<E>.stride)
                                .assumingMemoryBound(to: UInt16.self), ncols)
                        }
                    } else {
                        kernel.call(narrow: narrow, Tile(kc: steps, a: pa, aStep: aStep, b: pb, bStep: bStep, c: ws.tile,
                                                         rowOff: tileRows, cs: 1, mr: mr, nr: ncols, alpha: E.Acc.one,
                                                         accumulate: false, bCopy: bCopy, bFetch: bFetch))
                        let c = out.base.assumingMemoryBound(to: E.self)
                        for j in 0..<ncols { colOff[j] = out.cols[jc + j0 + j] }
                        for i in 0..<mr {
                            let row = c + out.rows[ic + ir + i]
                            for j in 0..<ncols {
                                let dst = row + colOff[j]
                                let v = ws.tile[i * NR + j].scaled(by: out.alpha)
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
        let kcStep = kBlock(k1 - k0)
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
        let kcStep = kBlock(K)
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
}

extension Microkernel {
    /// Runs the narrow form when asked (the caller checked it exists), without building an
    /// optional closure per tile (that allocates).
    @inline(__always) func call(narrow: Bool, _ t: Tile<T>) {
        if narrow, let n = self.narrow { n(t) } else { run(t) }
    }
}
