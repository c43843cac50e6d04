// Cache blocking of the packed GEMM: block sizes per level, balanced blocks, how far
// packing prefetches.

import CSupport
import SwiftgramKernels

/// How far ahead of the run it copies a packing loop prefetches: about 8 KiB, in 8 to 32
/// k steps. Short runs need more steps to cover memory latency, long runs fewer (their
/// lines would leave L1 before they are copied).
func prefetchSteps(runBytes: Int) -> Int { max(8, min(32, 8192 / max(runBytes, 1))) }

/// Cache blocking (elements). KC x NR panels of B stay in L1 across a micro-kernel sweep,
/// MC x KC of A in L2, KC x NC of B in L3. The A block takes half of a 1 MiB L2 (the
/// previous machine's; still literals, the performance issue asks for detected sizes):
/// every row block streams the whole packed B block from L3 once, so fewer, larger blocks
/// save L3 traffic. A product whose whole packed B still fits one such L3 block at twice
/// the K block takes that: its micro-kernel reads B from L2 at no loss and pays the
/// per-tile cost (loading and storing C) half as often; wider ones keep the short block.
/// A and B blocks are sized by the K block actually used (k when shorter). Measurements:
/// docs/performance.md.
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
