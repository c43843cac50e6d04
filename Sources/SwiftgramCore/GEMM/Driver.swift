// The GEMM driver: one step's blocking and workspace, then the loops that run it under its
// threading schedule (Schedule.swift).

import CSupport
import SwiftgramKernels

/// Runs one step on the packed GEMM engine; with `accumulate` the product is added to what
/// `c` holds (beta = 1), in the micro-kernel's stores.
func gemmKernel<E: Element>(a: UnsafePointer<E>, b: UnsafePointer<E>, c: UnsafeMutablePointer<E>,
                            layout l: GemmLayout, alpha: E.Acc, accumulate: Bool = false) throws(EinsumError) {
    // A type with the ISA's own product (bfloat16 on AVX512-BF16): its kernel over pairs of
    // k (float32 accumulators and C as for the widened path).
    let pairs = E.pairKernel
    let kernel = pairs ?? E.Acc.microkernel
    let MR = kernel.mr, NR = kernel.nr
    let (aRows, aK, bRows, bK, cRows, cCols) = (l.aRows, l.aK, l.bRows, l.bK, l.cRows, l.cCols)
    let M = cRows.count, N = cCols.count, K = aK.count
    let batch = l.batch, nb = l.nb
    if M == 0 || N == 0 || nb == 0 { return }
    if K == 0 {
        // Empty sum: the result is zero (nothing to add).
        if accumulate { return }
        var o = Odometer(batch)
        for _ in 0..<nb {
            for i in 0..<M { for j in 0..<N { c[o.c + cRows[i] + cCols[j]] = E(acc: E.Acc.zero) } }
            o.next()
        }
        return
    }
    // A symmetric product computes one triangle and mirrors it: not where it adds into c.
    let symmetric = !accumulate && a == b && M == N && aRows == bRows && aK == bK
        && batch.allSatisfy { $0.a == $0.b }
    // Blocks hold packed elements: the 16-bit ones themselves where packed as pairs.
    let packed = pairs == nil ? MemoryLayout<E.Acc>.stride : MemoryLayout<E>.stride
    let whole = Blocking(elementBytes: packed, mr: MR, nr: NR, n: N, k: K)
    let schedule = gemmSchedule(batch: nb, M: M, N: N, K: K, kc: whole.kc, threads: Threads.count, symmetric: symmetric)
    let workers = schedule.workers
    let kSplit = schedule.kind == .kSplit, cooperative = schedule.kind == .cooperative
    let grid: (rows: Int, cols: Int)? = if case .grid(let rows, let cols) = schedule.kind { (rows, cols) } else { nil }
    let rowPanels = (M + MR - 1) / MR, colPanels = (N + NR - 1) / NR
    // A grid worker packs only its own columns of B: the blocking follows that width.
    let packedCols = grid.map { (colPanels + $0.cols - 1) / $0.cols * NR } ?? colPanels * NR
    let blk = grid == nil ? whole : Blocking(elementBytes: packed, mr: MR, nr: NR, n: packedCols, k: K)
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
    // A narrower element type (float16, bfloat16) summed over more than one K block (or
    // added into C) is computed into a float32 product (one per worker for whole products,
    // else one shared), summed over every K block there, and rounded once into C
    // (Gemm.store): float32 accumulation, and the kernel stores straight into it. Over one
    // K block each tile is final where it is computed: the tile path rounds it into C
    // (no product to write and read back). Past stagingLimit the tile path rounds C after
    // each K block.
    let wholeProducts = schedule.kind == .batch
    let oneBlock = !accumulate && K <= blk.kc
    let staged = E.self != E.Acc.self && !kSplit && !oneBlock && M * N * (wholeProducts ? workers : 1) <= stagingLimit
    let staging = staged ? M * N : 0
    let perWorker = aSize + bSize + MR * NR + partial + (wholeProducts ? staging : 0)
    let shared = (cooperative ? bSize : 0) + (wholeProducts ? 0 : staging)
    let work = try allocate(E.Acc.self, count: perWorker * workers + shared, what: "GEMM packing buffers")
    defer { deallocate(work) }
    let ws = (0..<workers).map { w in
        Workspace(a: work + w * perWorker, b: work + w * perWorker + aSize, tile: work + w * perWorker + aSize + bSize)
    }
    let sharedB = work + workers * perWorker
    let sharedProduct = sharedB + (cooperative ? bSize : 0)
    let direct = E.self == E.Acc.self && cCols.step != nil

    do {
        func view(_ o: Odometer) -> OutputView<E.Acc> {
            OutputView(base: UnsafeMutableRawPointer(c + o.c), rows: cRows, cols: cCols, direct: direct, alpha: alpha)
        }
        func stagedView(_ product: UnsafeMutablePointer<E.Acc>) -> OutputView<E.Acc> {
            OutputView(base: UnsafeMutableRawPointer(product), rows: IndexMap(count: M, step: N),
                       cols: IndexMap(count: N, step: 1), direct: true, alpha: alpha)
        }
        if schedule.kind == .batch {
            parallelFor(nb, threads: workers) { bi, w in
                let o = Odometer(batch, start: bi)
                if staged {
                    let product = ws[w].tile + MR * NR + partial
                    g.serial(a: a + o.a, b: b + o.b, out: stagedView(product), m0: 0, m1: M, k0: 0, k1: K, ws: ws[w])
                    g.store(product, into: c + o.c, rows: 0..<M, accumulate: accumulate)
                    return
                }
                g.serial(a: a + o.a, b: b + o.b, out: view(o), m0: 0, m1: M, k0: 0, k1: K, accumulate: accumulate, ws: ws[w])
                if symmetric { g.mirror(c + o.c, rows: 0..<M) }  // while this product is in cache
            }
        } else if let grid {
            let blocks = (0..<workers).map { g.gridBlock($0, grid: grid) }
            let shares = try allocate(Int.self, count: workers * BlockShare.words(rows: blocks.map(\.rows).max() ?? 0),
                                      what: "GEMM grid state")
            defer { deallocate(shares) }
            var o = Odometer(batch)
            for _ in 0..<nb {
                g.grid(a: a + o.a, b: b + o.b, out: staged ? stagedView(sharedProduct) : view(o), blocks: blocks,
                       accumulate: accumulate && !staged, ws: ws, shares: shares)
                if staged { g.store(sharedProduct, into: c + o.c, workers: workers, accumulate: accumulate) }
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
                        let v = E(acc: s.scaled(by: alpha))
                        if accumulate {
                            let dst = cc + cRows[i] + cCols[j]
                            dst.pointee = E(acc: E.Acc.add(dst.pointee.acc, s.scaled(by: alpha)))
                            continue
                        }
                        cc[cRows[i] + cCols[j]] = v
                        if symmetric { cc[cRows[j] + cCols[i]] = v }
                    }
                }
                o.next()
            }
        } else {
            var o = Odometer(batch)
            for _ in 0..<nb {
                g.cooperative(a: a + o.a, b: b + o.b, out: staged ? stagedView(sharedProduct) : view(o), workers: workers,
                              ws: ws, sharedB: sharedB)
                if staged {
                    g.store(sharedProduct, into: c + o.c, workers: workers, accumulate: false)
                } else if symmetric {
                    g.mirror(c + o.c, workers: workers)
                }
                o.next()
            }
        }
    }
}
