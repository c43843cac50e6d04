// Cache blocking of the packed GEMM: block sizes per level, balanced blocks, how far
// packing prefetches.

import CSupport
import SwiftgramKernels

/// How far ahead of the run it copies a packing loop prefetches: about 8 KiB, in 8 to 32
/// k steps. Short runs need more steps to cover memory latency, long runs fewer (their
/// lines would leave L1 before they are copied).
func prefetchSteps(runBytes: Int) -> Int { max(8, min(32, 8192 / max(runBytes, 1))) }

/// The data caches of the machine (bytes), detected once (CSupport/caches.c): blocking is
/// derived from these, never from one CPU's literals.
public struct Caches: Sendable {
    public let l1d: Int, l2: Int, l3: Int, l3Sharing: Int
    public let source: String

    public static let machine: Caches = {
        let c = sg_caches()!.pointee
        return Caches(l1d: Int(c.l1d), l2: Int(c.l2), l3: Int(c.l3), l3Sharing: Int(c.l3_sharing),
                      source: String(cString: c.source))
    }()
}

/// Cache blocking (elements), derived from the caches (Goto / BLIS): a KC x NR micro-panel
/// of B fills L1d, where it stays while the micro-kernel sweeps A's micro-panels past it;
/// the MC x KC block of A takes half of L2; the KC x NC block of B, read from L3 once per
/// A block, takes twice L2 (at most the CPU's share of L3: a VM cannot see how many host
/// cores share its L3, so L2 sets the scale). A product whose whole packed B fits one B
/// block at twice the K block takes that: its micro-kernel reads B from L2 at no loss and
/// pays the per-tile cost (loading and storing C) half as often; wider ones keep the short
/// block. A and B blocks are sized by the K block actually used (k when shorter).
/// Measurements: docs/performance/engine.md.
struct Blocking {
    let kc: Int, mc: Int, nc: Int
    init<T>(_: T.Type, mr: Int, nr: Int, n: Int, k: Int, caches: Caches = .machine) {
        self.init(elementBytes: MemoryLayout<T>.stride, mr: mr, nr: nr, n: n, k: k, caches: caches)
    }

    /// The blocking for packed elements of `size` bytes.
    init(elementBytes size: Int, mr: Int, nr: Int, n: Int, k: Int, caches: Caches = .machine) {
        let base = max(64, min(512, caches.l1d / (nr * size)) / 16 * 16)
        let bBlock = max(caches.l2, min(2 * caches.l2, caches.l3 / caches.l3Sharing))
        kc = 2 * base * n * size <= bBlock ? 2 * base : base
        let depth = max(1, min(kc, k))
        mc = max(mr, (caches.l2 / 2 / (depth * size)) / mr * mr)
        nc = max(nr, (bBlock / (depth * size)) / nr * nr)
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
