// Flattened index sets: the offset of every index of an M, N or K set in one tensor, so
// packing and the micro-kernel read operands of any strides where they are.

import CSupport
import SwiftgramKernels

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
