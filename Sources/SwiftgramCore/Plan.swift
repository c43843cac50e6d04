// Planning: from parsed subscripts and shapes to a list of executable steps.
//
// Every operand is first seen through its unique labels (a repeated label is a diagonal:
// its stride is the sum of the axes' strides, so no copy is made). A path then says which
// operands meet; each meeting becomes at most three steps:
//   reduce    sum away labels only one side uses (and nobody needs later),
//   contract  out[batch, M, N] = sum_K A[batch, M, K] * B[batch, N, K],
// where batch/M/N/K are classified per step from label membership. The final step writes
// the caller's output directly, with the caller's strides.

/// One executable step. Slots 0..<nops are the operands; higher slots are intermediates;
/// `Plan.outputSlot` is the caller's output.
public struct Step: Equatable {
    public enum Kind: Equatable { case reduce, contract }
    public var kind: Kind
    public var inputs: [Int]
    public var result: Int
    public var resultLabels: [Int]
}

public final class Plan {
    public let subscripts: Subscripts
    public let shapes: [[Int]]
    /// Size of every label (indexed by label id).
    public let sizes: [Int]
    public let outputShape: [Int]
    /// The contraction path, NumPy's format.
    public let path: [[Int]]
    public let steps: [Step]
    /// Unique labels of every slot (operands, then intermediates).
    public let slotLabels: [[Int]]
    /// True when the result is a relabelled view of the single operand (NumPy returns a
    /// view there: transposes, diagonals).
    public let isView: Bool
    /// True when the path's last step contracts two operands over a label they share, of
    /// extent other than 1 in both (NumPy squeezes size-1 axes first): a matrix product on
    /// NumPy's optimize path, which assigns its result to out= ignoring `casting` (for a
    /// 0-d out=); the front end follows NumPy there.
    public var endsInSharedContraction: Bool {
        guard path.last?.count == 2, let last = steps.last, last.kind == .contract, last.inputs.count == 2 else {
            return false
        }
        let (a, b) = (last.inputs[0], last.inputs[1])
        func extent(_ slot: Int, _ l: Int) -> Int {
            guard slot < shapes.count, let axis = subscripts.inputs[slot].firstIndex(of: l) else { return sizes[l] }
            return shapes[slot][axis]
        }
        return (LabelSet(slotLabels[a]) & LabelSet(slotLabels[b])).labels.contains { extent(a, $0) != 1 && extent(b, $0) != 1 }
    }
    /// Elements in the output (overflow-checked).
    public let outputCount: Int
    /// Axes of all operands together (the length of the strides a call hands over).
    public let operandStrideCount: Int
    /// The binding of the last layout executed (see Execute.swift).
    let bindings = BindingCache()

    public static let outputSlot = -1

    public init(subscripts text: String, shapes: [[Int]], strategy: PathStrategy,
                memoryLimit: Double? = nil) throws(EinsumError) {
        if shapes.isEmpty { throw .value("einsum: at least one operand is required") }
        let s = try parseSubscripts(text, ndims: shapes.map(\.count))
        if s.ellipsisDims > 64 { throw .value("einsum: at most 64 dimensions can be broadcast through '...'") }
        if s.output.count > 64 { throw .value("einsum: the output would have \(s.output.count) dimensions (at most 64 are supported)") }
        let sizes = try labelSizes(s, shapes: shapes)
        self.subscripts = s
        self.shapes = shapes
        self.sizes = sizes
        self.outputShape = s.output.map { sizes[$0] }
        guard let count = checkedProduct(outputShape) else {
            throw EinsumError(.memory, "einsum: the output shape \(outputShape) has more elements than can be addressed")
        }
        self.outputCount = count
        self.operandStrideCount = shapes.reduce(0) { $0 + $1.count }
        for (k, shape) in shapes.enumerated() where checkedProduct(shape) == nil {
            throw EinsumError(.memory, "einsum: operand \(k) shape \(shape) has more elements than can be addressed")
        }

        let unique = s.inputs.map { labels in labels.enumerated().filter { labels.firstIndex(of: $0.element) == $0.offset }.map(\.element) }
        let output = LabelSet(s.output)
        self.isView = shapes.count == 1 && LabelSet(unique[0]) == output
        // NumPy's default memory limit: no intermediate larger than the largest operand or
        // the output (a term's size counts a repeated label once per use, as NumPy's does).
        let largest = (s.inputs + [s.output]).map { $0.reduce(1.0) { $0 * Double(sizes[$1]) } }.max()!
        let path = try findPath(inputs: unique.map { LabelSet($0) }, output: output, sizes: sizes,
                                strategy: strategy, memoryLimit: memoryLimit ?? largest)
        self.path = path
        var builder = StepBuilder(slotLabels: unique, output: s.output, sizes: sizes)
        try builder.build(path: path)
        self.steps = builder.steps
        self.slotLabels = builder.slotLabels
    }
}

/// Expands a path into steps, inserting pre-reductions and choosing intermediate layouts.
struct StepBuilder {
    var slotLabels: [[Int]]
    let output: [Int]
    let sizes: [Int]
    var steps: [Step] = []

    init(slotLabels: [[Int]], output: [Int], sizes: [Int]) {
        self.slotLabels = slotLabels
        self.output = output
        self.sizes = sizes
    }

    mutating func newSlot(_ labels: [Int]) -> Int {
        slotLabels.append(labels)
        return slotLabels.count - 1
    }

    mutating func build(path: [[Int]]) throws(EinsumError) {
        var current = Array(0..<slotLabels.count)
        for (index, entry) in path.enumerated() {
            let isLast = index == path.count - 1
            let taken = entry.map { current[$0] }
            for p in entry.sorted(by: >) { current.remove(at: p) }
            // Labels needed after this entry: the output and every operand still waiting.
            var outside = LabelSet(output)
            for slot in current { outside = outside | LabelSet(slotLabels[slot]) }
            var acc = taken[0]
            if taken.count == 1 {
                acc = reduce(acc, keep: outside, final: isLast)
            }
            for (k, next) in taken.dropFirst().enumerated() {
                var later = outside
                for slot in taken.dropFirst(k + 2) { later = later | LabelSet(slotLabels[slot]) }
                acc = contract(acc, next, keep: later, final: isLast && k == taken.count - 2)
            }
            current.append(acc)
        }
        // An empty path on one operand still has to produce the output.
        if steps.last?.result != Plan.outputSlot { _ = reduce(current[0], keep: LabelSet(output), final: true) }
    }

    /// Sums away the labels of `slot` that are not in `keep`.
    mutating func reduce(_ slot: Int, keep: LabelSet, final: Bool) -> Int {
        let labels = final ? output : slotLabels[slot].filter { keep.contains($0) }
        let result = final ? Plan.outputSlot : newSlot(labels)
        steps.append(Step(kind: .reduce, inputs: [slot], result: result, resultLabels: labels))
        return result
    }

    mutating func contract(_ a: Int, _ b: Int, keep: LabelSet, final: Bool) -> Int {
        var a = a, b = b
        let la = LabelSet(slotLabels[a]), lb = LabelSet(slotLabels[b])
        // Labels only one side has and nobody needs afterwards are summed first when that
        // saves work: reading the operand once beats carrying them through the contraction
        // as zero-stride K indices (e.g. 'ij,k->'), but not when the rest is no smaller
        // (e.g. 'ji,i->', best done as one strided sum).
        func worthReducing(_ own: LabelSet, _ other: LabelSet) -> Bool {
            let summed = own - other - keep
            if summed.isEmpty { return false }
            let all = elementCount(la | lb, sizes)
            return elementCount(own, sizes) + elementCount((la | lb) - summed, sizes) < all
        }
        if worthReducing(la, lb) { a = reduce(a, keep: keep | lb, final: false) }
        if worthReducing(lb, la) { b = reduce(b, keep: keep | la, final: false) }
        let A = slotLabels[a], B = slotLabels[b]
        let labels: [Int]
        if final {
            labels = output
        } else {
            // Intermediate layout [batch, M, N]: exactly the order the GEMM writes fastest.
            let sb = LabelSet(B), sa = LabelSet(A)
            let batch = A.filter { sb.contains($0) && keep.contains($0) }
            let m = A.filter { !sb.contains($0) && keep.contains($0) }
            let n = B.filter { !sa.contains($0) && keep.contains($0) }
            labels = batch + m + n
        }
        let result = final ? Plan.outputSlot : newSlot(labels)
        steps.append(Step(kind: .contract, inputs: [a, b], result: result, resultLabels: labels))
        return result
    }
}
