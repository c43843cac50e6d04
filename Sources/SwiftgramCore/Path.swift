// Contraction paths: in which order a multi-operand einsum is split into pairwise steps.
//
// A path is NumPy's format: a list of tuples of positions into the current operand list;
// each tuple's operands are removed and their contraction appended at the end.
// Strategies: left-to-right (NumPy's optimize=False order), greedy (NumPy's: pick the pair
// that removes the most memory, then the cheapest), optimal (NumPy's exhaustive search,
// same path and tie-breaking; see NumPyOptimal.swift), and auto (swiftgram's: the cheapest
// path by dynamic programming over subsets up to `autoOptimalLimit` operands, greedy beyond).

public enum PathStrategy: Equatable {
    case leftToRight
    case greedy
    case optimal
    case auto
    case explicit([[Int]])
}

/// Largest operand count `.auto` searches exhaustively (3^n subset splits, once per
/// signature; its cost at 8 is in docs/performance/engine.md); greedy beyond.
public let autoOptimalLimit = 8

/// Largest operand count `.optimal` searches exhaustively; beyond it the subset search
/// stands in for NumPy's (whose factorial search would not finish either).
public let optimalLimit = 10

/// Number of elements spanned by a label set (as Double: only compared, never overflows).
func elementCount(_ s: LabelSet, _ sizes: [Int]) -> Double {
    s.labels.reduce(1.0) { $0 * Double(sizes[$1]) }
}

/// NumPy's FLOP model: elements of the joint index space times (terms - 1, plus one more
/// when something is summed).
func flopCount(union: LabelSet, terms: Int, inner: Bool, sizes: [Int]) -> Double {
    elementCount(union, sizes) * Double(max(1, terms - 1) + (inner ? 1 : 0))
}

/// NumPy's `_find_contraction` for the pair (i, j) of `sets`: the operands left (in order),
/// the pair's joint labels, what their contraction keeps (labels still used outside it),
/// and its cost by NumPy's FLOP model.
func contractPair(_ i: Int, _ j: Int, of sets: [LabelSet], output: LabelSet, sizes: [Int])
    -> (rest: [LabelSet], result: LabelSet, cost: Double) {
    var outside = output, rest: [LabelSet] = []
    for (k, s) in sets.enumerated() where k != i && k != j { outside = outside | s; rest.append(s) }
    let union = sets[i] | sets[j], result = union & outside
    return (rest, result, flopCount(union: union, terms: 2, inner: union != result, sizes: sizes))
}

/// Finds a path for contracting `inputs` into `output`.
/// `memoryLimit` (elements) bounds every intermediate the search may create (nil: none;
/// `Plan` passes NumPy's default, the largest operand or output).
public func findPath(inputs: [LabelSet], output: LabelSet, sizes: [Int],
                     strategy: PathStrategy, memoryLimit: Double?) throws(EinsumError) -> [[Int]] {
    let n = inputs.count
    switch strategy {
    case .explicit(let path):
        try validate(path: path, count: n)
        return path
    case .leftToRight:
        return n == 1 ? [[0]] : [Array(0..<n)]
    case .greedy, .optimal, .auto:
        // One or two operands, or nothing summed: one step, as NumPy leaves it to one einsum.
        if n <= 2 || inputs.reduce(LabelSet(), |) == output { return [Array(0..<n)] }
        switch strategy {
        case .optimal where n <= optimalLimit:
            return numpyOptimalPath(inputs, output, sizes, memoryLimit) ?? optimalPath(inputs, output, sizes, memoryLimit)
        case .auto where n <= autoOptimalLimit:
            return optimalPath(inputs, output, sizes, memoryLimit)
        default:
            return greedyPath(inputs, output, sizes, memoryLimit)
        }
    }
}

func validate(path: [[Int]], count n: Int) throws(EinsumError) {
    var remaining = n
    for (s, step) in path.enumerated() {
        if step.isEmpty { throw .value("einsum path: step \(s) names no operand") }
        for p in step where p < 0 || p >= remaining {
            throw .value("einsum path: step \(s) names operand position \(p), but only \(remaining) operands remain (positions 0..<\(remaining))")
        }
        if Set(step).count != step.count {
            throw .value("einsum path: step \(s) names an operand position twice: \(step)")
        }
        remaining -= step.count - 1
    }
    if remaining != 1 {
        throw EinsumError(.runtime, "einsum path: invalid path, \(remaining - 1) more operand(s) have to be contracted (\(n) operands, path \(path))")
    }
}

/// NumPy's greedy search (`numpy/_core/einsumfunc.py`, `_greedy_path`), step for step, so
/// `einsum_path(optimize='greedy')` reports NumPy's path: at each step the pair that removes
/// the most elements (then the fewest FLOPs; the first found on ties) among pairs sharing a
/// label (all pairs when none do), within the memory limit and while the path stays cheaper
/// than the naive one-step contraction; else the rest in one step. As in NumPy, pairs found
/// on earlier steps keep the result and cost computed then, and later steps only add pairs
/// with the newest operand.
private func greedyPath(_ inputs: [LabelSet], _ output: LabelSet, _ sizes: [Int], _ limit: Double?) -> [[Int]] {
    let n = inputs.count
    if n <= 2 { return [Array(0..<n)] }
    struct Candidate {
        var removed: Double, cost: Double
        var pair: (Int, Int)
        var sets: [LabelSet]  // the operand list after this contraction; its result last
    }
    let all = inputs.reduce(LabelSet(), |)
    let naive = flopCount(union: all, terms: n, inner: !(all - output).isEmpty, sizes: sizes)
    var pathCost = 0.0
    func candidate(_ i: Int, _ j: Int, _ sets: [LabelSet]) -> Candidate? {
        let (rest, result, cost) = contractPair(i, j, of: sets, output: output, sizes: sizes)
        let size = elementCount(result, sizes)
        if let limit, size > limit { return nil }
        if pathCost + cost > naive { return nil }
        return Candidate(removed: elementCount(sets[i], sizes) + elementCount(sets[j], sizes) - size, cost: cost,
                         pair: (i, j), sets: rest + [result])
    }
    var sets = inputs
    var known: [Candidate] = []
    var pairs = (0..<n).flatMap { i in (i + 1..<n).map { (i, $0) } }
    var path: [[Int]] = []
    for _ in 0..<n - 1 {
        for (i, j) in pairs where !(sets[i] & sets[j]).isEmpty {
            if let c = candidate(i, j, sets) { known.append(c) }
        }
        if known.isEmpty {
            // No pair shares a label within the limits: outer products too.
            for i in 0..<sets.count { for j in i + 1..<sets.count { if let c = candidate(i, j, sets) { known.append(c) } } }
            if known.isEmpty {
                path.append(Array(0..<sets.count))
                break
            }
        }
        let best = known.dropFirst().reduce(known[0]) {
            ($1.removed > $0.removed || ($1.removed == $0.removed && $1.cost < $0.cost)) ? $1 : $0
        }
        let (bx, by) = best.pair
        // The pairs not involving the contracted operands, renumbered for the new list.
        known = known.compactMap { c in
            let (x, y) = c.pair
            if x == bx || x == by || y == bx || y == by { return nil }
            var c = c
            c.sets.remove(at: by - (by > x ? 1 : 0) - (by > y ? 1 : 0))
            c.sets.remove(at: bx - (bx > x ? 1 : 0) - (bx > y ? 1 : 0))
            c.sets.insert(best.sets.last!, at: c.sets.count - 1)
            c.pair = (x - (x > bx ? 1 : 0) - (x > by ? 1 : 0), y - (y > bx ? 1 : 0) - (y > by ? 1 : 0))
            return c
        }
        sets = best.sets
        pairs = (0..<sets.count - 1).map { ($0, sets.count - 1) }
        path.append([bx, by])
        pathCost += best.cost
    }
    return path
}

/// The cheapest path by FLOP count (dynamic programming over operand subsets), every
/// intermediate within `limit`; where none fits, as many pairwise steps as fit, then the rest.
func optimalPath(_ inputs: [LabelSet], _ output: LabelSet, _ sizes: [Int], _ limit: Double?) -> [[Int]] {
    let n = inputs.count
    if n == 1 { return [[0]] }
    let full = (1 << n) - 1
    // labels[S]: what the contraction of subset S keeps (used outside S or in the output).
    var labels = [LabelSet](repeating: LabelSet(), count: full + 1)
    var union = [LabelSet](repeating: LabelSet(), count: full + 1)
    for s in 1...full {
        let low = s & -s
        let i = low.trailingZeroBitCount
        union[s] = union[s ^ low] | inputs[i]
    }
    for s in 1...full { labels[s] = union[s] & (union[full ^ s] | output) }
    // A single operand enters its first contraction whole (its own labels are summed there).
    for i in 0..<n { labels[1 << i] = inputs[i] }
    var cost = [Double](repeating: .infinity, count: full + 1)
    var split = [Int](repeating: 0, count: full + 1)
    for i in 0..<n { cost[1 << i] = 0 }
    for s in 1...full where s & (s - 1) != 0 {
        if let limit, s != full, elementCount(labels[s], sizes) > limit { continue }
        // Enumerate splits s = a | b with a holding the lowest bit (each split once).
        let low = s & -s
        var a = (s - 1) & s
        while a > 0 {
            if a & low != 0 {
                let b = s ^ a
                let c = cost[a] + cost[b]
                if c < cost[s] {
                    let u = labels[a] | labels[b]
                    let total = c + flopCount(union: u, terms: 2, inner: u != labels[s], sizes: sizes)
                    if total < cost[s] { cost[s] = total; split[s] = a }
                }
            }
            a = (a - 1) & s
        }
    }
    // Turn the split tree into NumPy's positional path (post-order).
    var current: [Int] = (0..<n).map { 1 << $0 }
    var path: [[Int]] = []
    func emit(_ s: Int) {
        if s & (s - 1) == 0 { return }
        let a = split[s], b = s ^ a
        emit(a); emit(b)
        let pa = current.firstIndex(of: a)!, pb = current.firstIndex(of: b)!
        let (i, j) = (min(pa, pb), max(pa, pb))
        current.remove(at: j); current.remove(at: i)
        current.append(s)
        path.append([i, j])
    }
    if cost[full] < .infinity {
        emit(full)
        return path
    }
    // No pairwise path within the memory limit. NumPy's search then takes as many pairwise
    // steps as fit (the fewest groups, each formed within the limit; the cheapest such)
    // and contracts the groups in one last step.
    var groups = [Int](repeating: Int.max, count: full + 1)
    var groupCost = [Double](repeating: .infinity, count: full + 1)
    var firstGroup = [Int](repeating: 0, count: full + 1)
    (groups[0], groupCost[0]) = (0, 0)
    for s in 1...full {
        let low = s & -s
        var t = s
        while t > 0 {
            let rest = s ^ t
            if t & low != 0, cost[t] < .infinity, groups[rest] < Int.max {
                let (g, c) = (groups[rest] + 1, groupCost[rest] + cost[t])
                if g < groups[s] || (g == groups[s] && c < groupCost[s]) { (groups[s], groupCost[s], firstGroup[s]) = (g, c, t) }
            }
            t = (t - 1) & s
        }
    }
    var s = full
    while s != 0 {
        emit(firstGroup[s])
        s ^= firstGroup[s]
    }
    path.append(Array(0..<groups[full]))
    return path
}
