// The layout half of a GEMM step: index sets ordered and flattened into offset tables,
// and whether a panel can be read where it lies.

import CSupport
import SwiftgramKernels

/// Whether panels can be read where they are: unit-stride rows, uniform k stride, no type
/// conversion, k steps short enough that a panel's rows do not alias much in L1 (a
/// power-of-two step maps every row into a few cache sets), and few micro-kernel calls
/// (`reuse`) reading each panel: in place, every call streams the panel from L2; packed,
/// from L1. Since packing prefetches, in place only wins for the symmetric product when
/// A cannot be read out of B's packed panels (6-row kernels), where it saves packing the
/// same data twice (measurements: docs/performance/engine.md).
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
