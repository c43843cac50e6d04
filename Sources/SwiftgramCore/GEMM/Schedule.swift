// The threading schedule of one GEMM step: a pure function of the problem's shape and the
// threads available, so it can be read and tested apart from the loops that run it.

/// How one GEMM step's products are shared by `workers` threads.
struct GemmSchedule: Equatable {
    enum Kind: Equatable {
        /// Whole products of the batch, one per thread at a time (also: a single worker).
        case batch
        /// One product at a time, cut into rows x cols blocks of C, one per worker.
        case grid(rows: Int, cols: Int)
        /// A small output over a long sum: each worker sums chunks of K into its own
        /// buffer, then one reduction writes C.
        case kSplit
        /// A symmetric product (C = A A^T): the workers share its packed B, A read out of it.
        case cooperative
    }
    let kind: Kind
    let workers: Int
}

/// Largest float32 product (elements, all workers' together) a narrower element type is
/// computed into before it is rounded into C (Driver: staged); 256 MiB.
let stagingLimit = 1 << 26

/// Work below this many multiply-adds stays on the calling thread (a hand-off costs more).
let gemmParallelWork = 1e5

/// The schedule for `batch` products of M x N over K (K blocks of `kc`) on `threads`.
func gemmSchedule(batch: Int, M: Int, N: Int, K: Int, kc: Int, threads: Int, symmetric: Bool) -> GemmSchedule {
    let flops = Double(batch) * Double(M) * Double(N) * Double(K)
    let workers = flops < gemmParallelWork ? 1 : max(threads, 1)
    if batch >= workers { return GemmSchedule(kind: .batch, workers: workers) }
    if M * N <= 128 * 128 && K >= 8 * workers * kc { return GemmSchedule(kind: .kSplit, workers: workers) }
    if symmetric { return GemmSchedule(kind: .cooperative, workers: workers) }
    let g = gemmGrid(workers: workers, M: M, N: N)
    return GemmSchedule(kind: .grid(rows: g.rows, cols: g.cols), workers: workers)
}

/// The grid of blocks of C that one product is cut into, a block per worker, each computed
/// by its worker alone from its own packed panels: no packed panel or line of C passes
/// between cores and the threads meet only at the end (sharing packed B instead packs
/// less, but costs a cache-line transfer per shared line, which this host makes slow for
/// minutes at a time: docs/performance/engine.md). Rows x cols = workers with the least
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
