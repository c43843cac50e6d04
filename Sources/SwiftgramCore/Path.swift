// Contraction paths: in which order a multi-operand einsum is split into pairwise steps.
//
// A path is NumPy's format: a list of tuples of positions into the current operand list;
// each tuple's operands are removed and their contraction appended at the end.
// Strategies: left-to-right (NumPy's optimize=False order), greedy (pick the pair that
// removes the most memory, then the cheapest), optimal (exhaustive dynamic programming
// over subsets, for up to `optimalLimit` operands; greedy beyond).

/// A set of labels (ids below 128: 52 letters plus at most 64 broadcast dims).
public struct LabelSet: Hashable {
    public var bits: UInt128 = 0
    public init() {}
    public init<S: Sequence>(_ labels: S) where S.Element == Int {
        for l in labels { bits |= UInt128(1) << UInt128(l) }
    }
    public func contains(_ l: Int) -> Bool { bits & (UInt128(1) << UInt128(l)) != 0 }
    public var isEmpty: Bool { bits == 0 }
    public var count: Int { bits.nonzeroBitCount }
    public static func | (a: LabelSet, b: LabelSet) -> LabelSet { var r = a; r.bits |= b.bits; return r }
    public static func & (a: LabelSet, b: LabelSet) -> LabelSet { var r = a; r.bits &= b.bits; return r }
    public static func - (a: LabelSet, b: LabelSet) -> LabelSet { var r = a; r.bits &= ~b.bits; return r }
    public var labels: [Int] {
        var out: [Int] = []
        var b = bits
        while b != 0 {
            let l = b.trailingZeroBitCount
            out.append(l)
            b &= b - 1
        }
        return out
    }
}

public enum PathStrategy: Equatable {
    case leftToRight
    case greedy
    case optimal
    case explicit([[Int]])
}

/// Largest operand count searched exhaustively by `.optimal` (3^n subset splits).
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

/// Labels a contraction of `operands` must keep: those used by anything outside it.
func keptLabels(_ operands: [LabelSet], outside: LabelSet) -> LabelSet {
    operands.reduce(LabelSet(), |) & outside
}

/// Finds a path for contracting `inputs` into `output`.
/// `memoryLimit` (elements) bounds every intermediate the search may create.
public func findPath(inputs: [LabelSet], output: LabelSet, sizes: [Int],
                     strategy: PathStrategy, memoryLimit: Double?) throws(EinsumError) -> [[Int]] {
    let n = inputs.count
    switch strategy {
    case .explicit(let path):
        try validate(path: path, count: n)
        return path
    case .leftToRight:
        return n == 1 ? [[0]] : [Array(0..<n)]
    case .greedy:
        return greedyPath(inputs, output, sizes, memoryLimit)
    case .optimal:
        return n <= optimalLimit ? optimalPath(inputs, output, sizes, memoryLimit)
                                 : greedyPath(inputs, output, sizes, memoryLimit)
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
        throw .value("einsum path: invalid path, \(remaining - 1) more operand(s) have to be contracted (\(n) operands, path \(path))")
    }
}

private func greedyPath(_ inputs: [LabelSet], _ output: LabelSet, _ sizes: [Int], _ limit: Double?) -> [[Int]] {
    var current = inputs
    var path: [[Int]] = []
    if current.count == 1 { return [[0]] }
    while current.count > 1 {
        var best: (i: Int, j: Int, removed: Double, cost: Double)? = nil
        let anyShared = (0..<current.count).contains { i in
            (i + 1..<current.count).contains { j in !(current[i] & current[j]).isEmpty }
        }
        for i in 0..<current.count {
            for j in (i + 1)..<current.count {
                if anyShared && (current[i] & current[j]).isEmpty { continue }
                var outside = output
                for (k, o) in current.enumerated() where k != i && k != j { outside = outside | o }
                let result = keptLabels([current[i], current[j]], outside: outside)
                let size = elementCount(result, sizes)
                if let limit, size > limit { continue }
                let union = current[i] | current[j]
                let removed = elementCount(current[i], sizes) + elementCount(current[j], sizes) - size
                let cost = flopCount(union: union, terms: 2, inner: union != result, sizes: sizes)
                if best == nil || removed > best!.removed || (removed == best!.removed && cost < best!.cost) {
                    best = (i, j, removed, cost)
                }
            }
        }
        guard let b = best else {
            // Every pair breaks the memory limit: contract the rest in one go, as NumPy does.
            path.append(Array(0..<current.count))
            return path
        }
        var outside = output
        for (k, o) in current.enumerated() where k != b.i && k != b.j { outside = outside | o }
        let result = keptLabels([current[b.i], current[b.j]], outside: outside)
        current.remove(at: b.j)
        current.remove(at: b.i)
        current.append(result)
        path.append([b.i, b.j])
    }
    return path
}

private func optimalPath(_ inputs: [LabelSet], _ output: LabelSet, _ sizes: [Int], _ limit: Double?) -> [[Int]] {
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
    if cost[full] == .infinity { return greedyPath(inputs, output, sizes, limit) }
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
    emit(full)
    return path
}
