// Execution of a plan on concrete memory, in two halves:
//   bind  everything that depends on the layout (the element strides of operands and
//         output) but not on the data: label strides, loop orders, GEMM offset tables;
//   run   the steps on data pointers, allocating intermediates.
// A plan keeps its last binding, so repeated calls on the same layout (the usual case: same
// shapes, contiguous arrays) only hand over pointers: a 4x4 product costs a few hundred ns.

#if canImport(Glibc)
import Glibc
#endif

/// One operand or the output as the ABI hands it over: data and per-axis element strides.
public struct TensorArg {
    public var data: UnsafeMutableRawPointer
    public var strides: [Int]
    public init(data: UnsafeMutableRawPointer, strides: [Int]) {
        self.data = data
        self.strides = strides
    }
}

/// GEMM pays for packing; below these sizes the loop kernel is faster.
let gemmMinMN = 4, gemmMinK = 4, gemmMinWork = 4096

/// One step of a plan with its layout resolved. Slots index the data pointers of a call:
/// operands, intermediates, then the caller's output.
struct BoundStep {
    enum Work {
        case loop(LoopNest)
        case gemm(GemmLayout)
    }
    let work: Work
    let a: Int, b: Int?, c: Int
    /// Elements of the intermediate `c` to allocate before the step (nil: c exists).
    let allocate: Int?
    /// Intermediates whose last reader is this step (freed after it).
    let frees: [Int]
    /// Writes the caller's output, so the scale factor applies.
    let scaled: Bool
}

/// A plan bound to one layout.
final class Binding {
    /// Operand strides, then output strides (elements): the layout this binding is for.
    let key: [Int]
    let steps: [BoundStep]
    let slotCount: Int

    init(key: [Int], steps: [BoundStep], slotCount: Int) {
        self.key = key
        self.steps = steps
        self.slotCount = slotCount
    }

    func matches(_ strides: UnsafePointer<Int64>?, _ count: Int, _ outStrides: UnsafePointer<Int64>?) -> Bool {
        for i in 0..<count where key[i] != Int(strides![i]) { return false }
        for i in count..<key.count where key[i] != Int(outStrides![i - count]) { return false }
        return true
    }

    /// Offset-table entries held (bindings holding many are not kept between calls).
    var tableEntries: Int {
        steps.reduce(0) { n, s in
            if case .gemm(let l) = s.work { return n + l.tableEntries }
            return n
        }
    }
}

/// The last binding a plan made, shared by the threads that call it.
final class BindingCache {
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var latest: Binding?
    /// Bindings with more table entries than this are rebuilt per call rather than kept
    /// (a cached plan must not pin large tables; such steps are large enough to amortise).
    static let keepLimit = 1 << 16

    init() { pthread_mutex_init(lock, nil) }
    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    func get(_ matches: (Binding) -> Bool) -> Binding? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return latest.flatMap { matches($0) ? $0 : nil }
    }

    func keep(_ b: Binding) {
        if b.tableEntries > BindingCache.keepLimit { return }
        pthread_mutex_lock(lock)
        latest = b
        pthread_mutex_unlock(lock)
    }
}

extension Plan {
    /// Runs the contraction. `alpha` scales the result (the Gram's 1/(h*w)); it must be 1
    /// for integer and bool types.
    /// With `accumulate` the result is added to what the output holds (out += alpha * result).
    public func execute(dtype: DType, operands: [TensorArg], output: TensorArg, alpha: Double = 1,
                        accumulate: Bool = false) throws(EinsumError) {
        if operands.count != shapes.count {
            throw .value("einsum: plan expects \(shapes.count) operands, got \(operands.count)")
        }
        for (k, op) in operands.enumerated() where op.strides.count != shapes[k].count {
            throw .value("einsum: operand \(k) has \(op.strides.count) strides for \(shapes[k].count) dimensions")
        }
        if output.strides.count != outputShape.count {
            throw .value("einsum: output has \(output.strides.count) strides for \(outputShape.count) dimensions")
        }
        let data: [UnsafeRawPointer?] = operands.map { UnsafeRawPointer($0.data) }
        let strides = operands.flatMap(\.strides).map(Int64.init), outStrides = output.strides.map(Int64.init)
        try execute(dtype: dtype, data: data, strides: strides, output: output.data, outputStrides: outStrides, alpha: alpha,
                    accumulate: accumulate)
    }

    /// Runs the contraction on raw arguments, every operand of `dtype` (or, from the mixed
    /// entry in Conversion.swift, read converted as `converting` lists).
    func execute(dtype: DType, data: UnsafePointer<UnsafeRawPointer?>, strides: UnsafePointer<Int64>?,
                 output: UnsafeMutableRawPointer, outputStrides: UnsafePointer<Int64>?,
                 alpha: Double, accumulate: Bool, converting: [Conversion]) throws(EinsumError) {
        let count = operandStrideCount
        var binding = bindings.get { $0.matches(strides, count, outputStrides) }
        if binding == nil {
            let b = try bind(strides: (0..<count).map { Int(strides![$0]) },
                             outputStrides: (0..<outputShape.count).map { Int(outputStrides![$0]) })
            bindings.keep(b)
            binding = b
        }
        let b = binding!
        let into = accumulate ? (0..<outputShape.count).map { Int(outputStrides![$0]) } : nil
        try withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: b.slotCount) { buffer throws(EinsumError) in
            let slots = buffer.baseAddress!
            slots.initialize(repeating: nil, count: b.slotCount)
            for k in 0..<shapes.count { slots[k] = UnsafeMutableRawPointer(mutating: data[k]) }
            slots[b.slotCount - 1] = output
            defer {
                for i in shapes.count..<b.slotCount - 1 { free(slots[i]) }
                for c in converting where slots[c.operand] != UnsafeMutableRawPointer(mutating: data[c.operand]) {
                    free(slots[c.operand])
                }
            }
            try dtype.with(Steps(plan: self, binding: b, slots: slots, alpha: alpha, into: into, converting: converting))
        }
    }

    /// `run` as work for `DType.with`.
    private struct Steps: ElementWork {
        let plan: Plan, binding: Binding, slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>
        let alpha: Double, into: [Int]?, converting: [Conversion]
        func run<E: Element>(_: E.Type) throws(EinsumError) {
            try plan.run(E.self, binding, slots, alpha, into, converting)
        }
    }

    /// Element strides of each output axis for the view NumPy returns when `isView`.
    public func viewStrides(operandStrides: [Int]) -> [Int] {
        combinedStrides(operand: 0, labels: subscripts.output, axisStrides: operandStrides[...])
    }

    /// Element stride of each label over operand `k`'s axes: a repeated label (diagonal)
    /// sums its axes' strides, and a broadcast size-1 axis contributes 0.
    func combinedStrides(operand k: Int, labels: [Int], axisStrides: ArraySlice<Int>) -> [Int] {
        let axes = subscripts.inputs[k]
        return labels.map { l in
            axes.indices.filter { axes[$0] == l && shapes[k][$0] != 1 }.reduce(0) { $0 + axisStrides[axisStrides.startIndex + $1] }
        }
    }

    /// Resolves every step for one layout.
    func bind(strides: [Int], outputStrides: [Int]) throws(EinsumError) -> Binding {
        let outSlot = slotLabels.count
        func slot(_ s: Int) -> Int { s == Plan.outputSlot ? outSlot : s }
        // Each slot's labels and their element strides.
        let labels = slotLabels + [subscripts.output]
        var slotStrides = [[Int]](repeating: [], count: outSlot + 1)
        var at = 0
        for k in shapes.indices {
            slotStrides[k] = combinedStrides(operand: k, labels: slotLabels[k], axisStrides: strides[at..<at + shapes[k].count])
            at += shapes[k].count
        }
        slotStrides[outSlot] = outputStrides
        var lastUse = [Int](repeating: -1, count: outSlot + 1)
        for (i, step) in steps.enumerated() { for s in step.inputs { lastUse[s] = i } }

        var bound: [BoundStep] = []
        for (i, step) in steps.enumerated() {
            let c = slot(step.result)
            var allocate: Int? = nil
            if c != outSlot {
                // Intermediates are dense, row-major over their labels.
                let dims = step.resultLabels.map { sizes[$0] }
                guard let count = checkedProduct(dims) else {
                    throw EinsumError(.memory, "einsum: intermediate with shape \(dims) is too large")
                }
                var st = [Int](repeating: 1, count: dims.count)
                for d in stride(from: dims.count - 2, through: 0, by: -1) { st[d] = st[d + 1] * max(dims[d + 1], 1) }
                slotStrides[c] = st
                allocate = count
            }
            func strideOf(_ l: Int, _ s: Int) -> Int { labels[s].firstIndex(of: l).map { slotStrides[s][$0] } ?? 0 }
            let a = step.inputs[0]
            let frees = step.inputs.filter { $0 >= shapes.count && lastUse[$0] == i }
            let scaled = c == outSlot
            switch step.kind {
            case .reduce:
                let outer = labels[c].map { l in Dim(size: sizes[l], a: strideOf(l, a), b: 0, c: strideOf(l, c)) }
                let inner = labels[a].filter { !labels[c].contains($0) }.map { l in
                    Dim(size: sizes[l], a: strideOf(l, a), b: 0, c: 0)
                }
                // (The inner set is at most the operand's own element count, which fits.)
                bound.append(BoundStep(work: .loop(LoopNest(outer: outer, inner: inner)), a: a, b: nil, c: c,
                                       allocate: allocate, frees: frees, scaled: scaled))
            case .contract:
                let b = step.inputs[1]
                var p = GemmProblem(batch: [], m: [], n: [], k: [])
                var all = labels[c]
                for l in labels[a] + labels[b] where !all.contains(l) { all.append(l) }
                for l in all {
                    let inA = labels[a].contains(l), inB = labels[b].contains(l), inC = labels[c].contains(l)
                    let d = Dim(size: sizes[l], a: strideOf(l, a), b: strideOf(l, b), c: strideOf(l, c))
                    switch (inA, inB, inC) {
                    case (true, true, true): p.batch.append(d)
                    case (true, false, true): p.m.append(d)
                    case (false, true, true): p.n.append(d)
                    case (_, _, false): p.k.append(d)        // summed; a one-sided label has stride 0 on the other
                    default: p.batch.append(d)               // output-only label: broadcast, stride 0
                    }
                }
                let M = p.m.reduce(1) { $0 * $1.size }, N = p.n.reduce(1) { $0 * $1.size }  // both <= output size
                guard let K = checkedProduct(p.k.map(\.size)), let work = checkedProduct([M, N, K]) else {
                    throw .value("einsum: a contraction step sums over more terms than can be counted (sizes \(p.k.map(\.size)))")
                }
                if min(M, N) >= gemmMinMN && K >= gemmMinK && work >= gemmMinWork {
                    // The kernel stores N with vector stores: give N the side contiguous in C.
                    let cm = p.m.map { abs($0.c) }.min() ?? 0, cn = p.n.map { abs($0.c) }.min() ?? 0
                    let swap = cm < cn
                    let q = swap ? GemmProblem(batch: p.batch.map(swapAB), m: p.n.map(swapAB), n: p.m.map(swapAB),
                                               k: p.k.map(swapAB)) : p
                    if let layout = GemmLayout(q) {
                        bound.append(BoundStep(work: .gemm(layout), a: swap ? b : a, b: swap ? a : b, c: c,
                                               allocate: allocate, frees: frees, scaled: scaled))
                        continue
                    }
                }
                bound.append(BoundStep(work: .loop(LoopNest(outer: p.batch + p.m + p.n, inner: p.k)), a: a, b: b, c: c,
                                       allocate: allocate, frees: frees, scaled: scaled))
            }
        }
        return Binding(key: strides + outputStrides, steps: bound, slotCount: outSlot + 1)
    }

    /// Runs the bound steps; `into` (the output's strides) asks for the result to be added
    /// to the output: the GEMM adds in its kernel, a loop step writes a scratch copy first.
    fileprivate func run<E: Element>(_: E.Type, _ binding: Binding, _ slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
                                 _ alpha: Double, _ into: [Int]?, _ converting: [Conversion]) throws(EinsumError) {
        func data(_ s: Int) -> UnsafeMutablePointer<E> { slots[s]!.assumingMemoryBound(to: E.self) }
        for c in converting {
            slots[c.operand] = UnsafeMutableRawPointer(try convert(slots[c.operand]!, from: c.from, to: E.self,
                                                                   shape: shapes[c.operand], strides: c.strides))
        }
        for step in binding.steps {
            if let count = step.allocate {
                slots[step.c] = UnsafeMutableRawPointer(try allocate(E.self, count: count, what: "an intermediate of \(count) elements"))
            }
            let scale = E.Acc(scale: step.scaled ? alpha : 1)
            let adds = into != nil && step.c == binding.slotCount - 1
            switch step.work {
            case .loop(let nest) where adds:
                try addInto(data(step.c), shape: outputShape, strides: into!) { c in
                    nest.run(a: data(step.a), b: step.b.map { data($0) }, c: c, alpha: scale)
                }
            case .loop(let nest):
                nest.run(a: data(step.a), b: step.b.map { data($0) }, c: data(step.c), alpha: scale)
            case .gemm(let layout):
                try gemmKernel(a: data(step.a), b: data(step.b!), c: data(step.c), layout: layout, alpha: scale,
                               accumulate: adds)
            }
            for s in step.frees {
                free(slots[s])
                slots[s] = nil
            }
        }
    }
}

/// out += what `body` writes through a pointer laid out as `out` (shape, element strides):
/// body writes a scratch block covering the output's span, which is then added in.
private func addInto<E: Element>(_ out: UnsafeMutablePointer<E>, shape: [Int], strides: [Int],
                                 _ body: (UnsafeMutablePointer<E>) -> Void) throws(EinsumError) {
    var (lo, hi) = (0, 0)
    for (n, st) in zip(shape, strides) where n > 0 { (lo, hi) = st < 0 ? (lo + (n - 1) * st, hi) : (lo, hi + (n - 1) * st) }
    let scratch = try allocate(E.self, count: hi - lo + 1, what: "a scratch result of \(hi - lo + 1) elements")
    defer { deallocate(scratch) }
    let base = scratch - lo
    body(base)
    let dims = zip(shape, strides).map { Dim(size: $0, a: $1, b: 0, c: $1) }
    var o = Odometer(dims)
    for _ in 0..<shape.reduce(1, *) {
        out[o.c] = E(acc: E.Acc.add(out[o.c].acc, base[o.a].acc))
        o.next()
    }
}

private func swapAB(_ d: Dim) -> Dim { Dim(size: d.size, a: d.b, b: d.a, c: d.c) }
