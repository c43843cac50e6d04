// optimize='optimal': NumPy's exhaustive path search, reproduced so that swiftgram reports
// and runs NumPy's path, ties included.

/// NumPy's `_optimal_path` (`numpy/_core/einsumfunc.py`): every sequence of pairwise
/// contractions (at each step the pairs (i, j), i < j, of the current operand list in
/// `itertools.combinations` order; the two leave the list and their result goes last) whose
/// every result fits `limit` elements. It returns the cheapest by NumPy's FLOP count, the
/// first found on ties; when no sequence contracts everything within the limit, the
/// longest that fit (cheapest, first), then the rest in one step.
///
/// NumPy enumerates breadth first; a depth-first walk meets the sequences in the same
/// (lexicographic) order, so it keeps the same winner while cutting every branch already
/// costlier than the subset search's optimum (or than the best complete path found). Nil
/// when the walk would visit more than `budget` nodes (about 0.3 s; random cases of up to
/// 8 operands stay far below it, NumPy's own search takes minutes at 9): the caller then
/// takes the subset search's path, of the same cost.
func numpyOptimalPath(_ inputs: [LabelSet], _ output: LabelSet, _ sizes: [Int], _ limit: Double?,
                      budget: Int = 1_000_000) -> [[Int]]? {
    let n = inputs.count
    let limit = limit ?? .infinity
    // The cheapest complete path's cost bounds the walk, when one exists within the limit
    // (NumPy checks the last result, the output, against the limit too).
    var bound = Double.infinity
    if elementCount(output, sizes) <= limit {
        let cheapest = replayCost(optimalPath(inputs, output, sizes, limit), inputs, output, sizes, limit)
        if let cheapest { bound = cheapest * (1 + 1e-12) }
    }
    // The deepest sequence found, the cheapest of that depth (first found on ties); the
    // empty one to begin with, as NumPy's search starts from it.
    var best: (depth: Int, cost: Double, path: [[Int]]) = (0, 0, [])
    var bestComplete = Double.infinity
    var path: [[Int]] = []
    var visited = 0
    func walk(_ sets: [LabelSet], _ cost: Double) -> Bool {
        visited += 1
        if visited > budget { return false }
        if path.count > best.depth || (path.count == best.depth && cost < best.cost) { best = (path.count, cost, path) }
        if sets.count == 1 {
            bestComplete = cost  // the walk only gets here cheaper than any earlier one
            return true
        }
        for i in 0..<sets.count {
            for j in i + 1..<sets.count {
                let (rest, result, step) = contractPair(i, j, of: sets, output: output, sizes: sizes)
                if elementCount(result, sizes) > limit { continue }
                let total = cost + step
                // Costs only grow along a sequence: a branch costlier than the optimum, or no
                // cheaper than a complete path found before it, cannot win.
                if total > bound || total >= bestComplete { continue }
                path.append([i, j])
                let finished = walk(rest + [result], total)
                path.removeLast()
                if !finished { return false }
            }
        }
        return true
    }
    guard walk(inputs, 0) else { return nil }
    if best.depth == n - 1 { return best.path }
    return best.path + [Array(0..<(n - best.depth))]
}

/// The FLOP count of a pairwise path, or nil if a step is not a pair or its result
/// exceeds `limit`.
private func replayCost(_ path: [[Int]], _ inputs: [LabelSet], _ output: LabelSet, _ sizes: [Int],
                        _ limit: Double) -> Double? {
    var sets = inputs, cost = 0.0
    for step in path {
        guard step.count == 2 else { return nil }
        let (rest, result, stepCost) = contractPair(step[0], step[1], of: sets, output: output, sizes: sizes)
        if elementCount(result, sizes) > limit { return nil }
        cost += stepCost
        sets = rest + [result]
    }
    return sets.count == 1 ? cost : nil
}
