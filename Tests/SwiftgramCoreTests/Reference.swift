// A naive einsum written independently of the engine: for every assignment of all labels,
// multiply the operands' elements and add into the output. Used as the tests' oracle.
@testable import SwiftgramCore

/// A dense test tensor: values in a flat buffer, addressed through an offset and strides
/// (so tests can build transposed, reversed and broadcast views of the same storage).
struct TestTensor<T> {
    var storage: [T]
    var shape: [Int]
    var strides: [Int]
    var offset: Int = 0

    init(shape: [Int], values: (Int) -> T) {
        self.shape = shape
        let count = shape.reduce(1, *)
        storage = (0..<count).map(values)
        strides = [Int](repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
    }

    subscript(_ index: [Int]) -> T {
        storage[offset + zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 }]
    }

    /// Axes permuted.
    func transposed(_ perm: [Int]) -> TestTensor {
        var t = self
        t.shape = perm.map { shape[$0] }
        t.strides = perm.map { strides[$0] }
        return t
    }

    /// The same values with `k - 1` unused elements after each (every stride times k).
    func spaced(by k: Int) -> TestTensor {
        var t = self
        t.storage = storage.flatMap { [$0] + [T](repeating: $0, count: k - 1) }
        t.strides = strides.map { $0 * k }
        t.offset = offset * k
        return t
    }

    /// A one-element tensor read as `shape` (every stride 0, as NumPy's broadcast_to).
    func broadcast(to shape: [Int]) -> TestTensor {
        var t = self
        t.shape = shape
        t.strides = [Int](repeating: 0, count: shape.count)
        return t
    }

    /// Axis reversed (negative stride).
    func reversed(axis: Int) -> TestTensor {
        var t = self
        t.offset += (shape[axis] - 1) * strides[axis]
        t.strides[axis] = -strides[axis]
        return t
    }
}

func multiIndices(_ shape: [Int]) -> [[Int]] {
    var out: [[Int]] = [[]]
    for d in shape {
        var next: [[Int]] = []
        for prefix in out { for i in 0..<d { next.append(prefix + [i]) } }
        out = next
    }
    return out
}

func naiveEinsum<E: Element>(_ subscripts: String, _ operands: [TestTensor<E>]) throws -> TestTensor<E> {
    let s = try parseSubscripts(subscripts, ndims: operands.map { $0.shape.count })
    let sizes = try labelSizes(s, shapes: operands.map(\.shape))
    let labels = Array(Set(s.inputs.joined()))
    var out = TestTensor<E>(shape: s.output.map { sizes[$0] }) { _ in E(acc: E.Acc.zero) }
    for assignment in multiIndices(labels.map { sizes[$0] }) {
        var value = [Int](repeating: 0, count: s.labelCount)
        for (l, i) in zip(labels, assignment) { value[l] = i }
        var product = E.Acc.one
        for (k, op) in operands.enumerated() {
            // Size-1 axes broadcast: they always read index 0.
            let index = zip(s.inputs[k], op.shape).map { $1 == 1 ? 0 : value[$0] }
            product = E.Acc.mul(product, op[index].acc)
        }
        let oi = s.output.map { value[$0] }
        let flat = zip(oi, out.strides).reduce(0) { $0 + $1.0 * $1.1 }
        out.storage[flat] = E(acc: E.Acc.add(out.storage[flat].acc, product))
    }
    return out
}

/// Runs the engine on test tensors (read in place through their offsets and strides) and
/// returns a dense row-major result.
func engineEinsum<E: Element>(_ subscripts: String, _ operands: [TestTensor<E>], strategy: PathStrategy = .greedy,
                              alpha: Double = 1, dtype: DType) throws -> TestTensor<E> {
    let plan = try Plan(subscripts: subscripts, shapes: operands.map(\.shape), strategy: strategy)
    var out = TestTensor<E>(shape: plan.outputShape) { _ in E(acc: E.Acc.zero) }
    let buffers = operands.map { op -> UnsafeMutableBufferPointer<E> in
        let b = UnsafeMutableBufferPointer<E>.allocate(capacity: max(op.storage.count, 1))
        _ = b.initialize(from: op.storage)
        return b
    }
    defer { buffers.forEach { $0.deallocate() } }
    let args = zip(buffers, operands).map { b, op in
        TensorArg(data: UnsafeMutableRawPointer(b.baseAddress! + op.offset), strides: op.strides)
    }
    let outStrides = out.strides
    try out.storage.withUnsafeMutableBufferPointer { o in
        try plan.execute(dtype: dtype, operands: args,
                         output: TensorArg(data: UnsafeMutableRawPointer(o.baseAddress!), strides: outStrides),
                         alpha: alpha)
    }
    return out
}
