// Pairwise summation: partial sums of blocks combined as a balanced tree, so a reduction's
// rounding error grows with the logarithm of its length rather than with the length (as
// NumPy's pairwise sum). Every reduction path of the loop kernel sums this way.

/// Terms a scalar loop adds in sequence before its partial sum joins the pairwise tree.
let scalarBlock = 128

/// sum over [0, n) of `body(range)`, for consecutive ranges of at most `block` indices, the
/// partial sums added pairwise.
func pairwiseSum<A: Accumulator>(_ n: Int, block: Int, _ body: (Range<Int>) -> A) -> A {
    func sum(_ r: Range<Int>) -> A {
        if r.count <= block { return body(r) }
        let half = (r.count / 2 + block - 1) / block * block
        return A.add(sum(r.lowerBound..<r.lowerBound + half), sum(r.lowerBound + half..<r.upperBound))
    }
    return sum(0..<n)
}

/// Block sums pushed one by one and added pairwise, as a binary counter: level k holds the
/// sum of 2^k consecutive blocks while bit k of the count is set. The levels live in memory
/// the caller provides (`depth` elements, uninitialised: a level is only read once written).
struct Cascade<A: Accumulator> {
    static var depth: Int { 64 }
    private let levels: UnsafeMutablePointer<A>
    private var count = 0

    init(levels: UnsafeMutablePointer<A>) { self.levels = levels }

    @inline(__always) mutating func push(_ value: A) {
        var x = value, c = count, k = 0
        while c & 1 == 1 {
            x = A.add(levels[k], x)
            c >>= 1
            k += 1
        }
        (levels + k).initialize(to: x)
        count += 1
    }

    /// The sum of everything pushed and `last`; just `last` when nothing was pushed (a
    /// reduction of one block touches no memory).
    @inline(__always) mutating func finish(_ last: A) -> A {
        if count == 0 { return last }
        push(last)
        return total
    }

    /// The sum of everything pushed (zero if nothing was).
    var total: A {
        var sum: A? = nil, c = count, k = 0
        while c != 0 {
            if c & 1 == 1 { sum = sum.map { A.add(levels[k], $0) } ?? levels[k] }
            c >>= 1
            k += 1
        }
        return sum ?? A.zero
    }
}

/// `Cascade` for vectors of `lanes` sums at once (one per output of a row): pushing a block
/// of lane sums adds it into the levels exactly as `Cascade` adds one sum, so every lane
/// is summed pairwise. The levels live in memory the caller provides (`lanes` elements per
/// level, `LaneCascade.depth(blocks:)` levels for that many pushes, uninitialised).
struct LaneCascade<A: Accumulator> {
    private let levels: UnsafeMutablePointer<A>
    private let lanes: Int
    private var count = 0

    /// Levels needed for `blocks` pushes (the binary counter's width).
    static func depth(blocks: Int) -> Int { Int.bitWidth - blocks.leadingZeroBitCount + 1 }

    init(levels: UnsafeMutablePointer<A>, lanes: Int) {
        self.levels = levels
        self.lanes = lanes
    }

    /// Adds the block sums `t` (overwritten: it carries the sum up the levels).
    @inline(__always) mutating func push(_ t: UnsafeMutablePointer<A>) {
        var c = count, k = 0
        while c & 1 == 1 {
            let level = levels + k * lanes
            for w in 0..<lanes { t[w] = A.add(level[w], t[w]) }
            c >>= 1
            k += 1
        }
        (levels + k * lanes).initialize(from: t, count: lanes)
        count += 1
    }

    /// Leaves in `t` the sums of everything pushed and of `t` itself (untouched when
    /// nothing was pushed).
    @inline(__always) mutating func finish(_ t: UnsafeMutablePointer<A>) {
        if count == 0 { return }
        push(t)
        var c = count, k = 0, first = true
        while c != 0 {
            if c & 1 == 1 {
                let level = levels + k * lanes
                if first {
                    t.update(from: level, count: lanes)
                    first = false
                } else {
                    for w in 0..<lanes { t[w] = A.add(level[w], t[w]) }
                }
            }
            c >>= 1
            k += 1
        }
    }
}
