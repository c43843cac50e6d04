// Execution of a plan on concrete memory: binds strides to the plan's slots, allocates
// intermediates, and runs every step with the GEMM engine or the loop kernel.

/// One operand or the output as the ABI hands it over: data and per-axis element strides.
public struct TensorArg {
    public var data: UnsafeMutableRawPointer
    public var strides: [Int]
    public init(data: UnsafeMutableRawPointer, strides: [Int]) {
        self.data = data
        self.strides = strides
    }
}

/// A slot bound to memory: base pointer and one stride per unique label.
struct Bound<E> {
    var base: UnsafeMutablePointer<E>
    var labels: [Int]
    var strides: [Int]
    func stride(of label: Int) -> Int {
        labels.firstIndex(of: label).map { strides[$0] } ?? 0
    }
}

/// GEMM pays for packing; below these sizes the loop kernel is faster.
let gemmMinMN = 4, gemmMinK = 4, gemmMinWork = 4096

extension Plan {
    /// Runs the contraction. `alpha` scales the result (the Gram's 1/(h*w)); it must be 1
    /// for integer and bool types.
    public func execute(dtype: DType, operands: [TensorArg], output: TensorArg, alpha: Double = 1) throws(EinsumError) {
        if operands.count != shapes.count {
            throw .value("einsum: plan expects \(shapes.count) operands, got \(operands.count)")
        }
        for (k, op) in operands.enumerated() where op.strides.count != shapes[k].count {
            throw .value("einsum: operand \(k) has \(op.strides.count) strides for \(shapes[k].count) dimensions")
        }
        if output.strides.count != outputShape.count {
            throw .value("einsum: output has \(output.strides.count) strides for \(outputShape.count) dimensions")
        }
        switch dtype {
        case .bool: try run(Bool.self, operands, output, alpha)
        case .int8: try run(Int8.self, operands, output, alpha)
        case .int16: try run(Int16.self, operands, output, alpha)
        case .int32: try run(Int32.self, operands, output, alpha)
        case .int64: try run(Int64.self, operands, output, alpha)
        case .uint8: try run(UInt8.self, operands, output, alpha)
        case .uint16: try run(UInt16.self, operands, output, alpha)
        case .uint32: try run(UInt32.self, operands, output, alpha)
        case .uint64: try run(UInt64.self, operands, output, alpha)
        case .float16: try run(Float16.self, operands, output, alpha)
        case .float32: try run(Float.self, operands, output, alpha)
        case .float64: try run(Double.self, operands, output, alpha)
        case .complex64: try run(Complex<Float>.self, operands, output, alpha)
        case .complex128: try run(Complex<Double>.self, operands, output, alpha)
        }
    }

    /// Element strides of each output axis for the view NumPy returns when `isView`.
    public func viewStrides(operandStrides: [Int]) -> [Int] {
        combinedStrides(operand: 0, labels: subscripts.output, axisStrides: operandStrides)
    }

    /// Element stride of each label over operand `k`'s axes: a repeated label (diagonal)
    /// sums its axes' strides, and a broadcast size-1 axis contributes 0.
    func combinedStrides(operand k: Int, labels: [Int], axisStrides: [Int]) -> [Int] {
        let axes = subscripts.inputs[k]
        return labels.map { l in
            axes.indices.filter { axes[$0] == l && shapes[k][$0] != 1 }.reduce(0) { $0 + axisStrides[$1] }
        }
    }

    private func run<E: Element>(_: E.Type, _ operands: [TensorArg], _ output: TensorArg, _ alpha: Double) throws(EinsumError) {
        if outputCount == 0 { return }
        var slots: [Bound<E>?] = []
        for (k, op) in operands.enumerated() {
            let strides = combinedStrides(operand: k, labels: slotLabels[k], axisStrides: op.strides)
            slots.append(Bound(base: op.data.assumingMemoryBound(to: E.self), labels: slotLabels[k], strides: strides))
        }
        let out = Bound(base: output.data.assumingMemoryBound(to: E.self), labels: subscripts.output,
                        strides: output.strides)
        var owned: [UnsafeMutablePointer<E>] = []
        defer { for p in owned { deallocate(p) } }

        for step in steps {
            let target: Bound<E>
            if step.result == Plan.outputSlot {
                target = out
            } else {
                let sizes = step.resultLabels.map { self.sizes[$0] }
                guard let count = checkedProduct(sizes) else {
                    throw EinsumError(.memory, "einsum: intermediate with shape \(sizes) is too large")
                }
                let p = try allocate(E.self, count: count, what: "an intermediate of shape \(sizes)")
                owned.append(p)
                var strides = [Int](repeating: 1, count: sizes.count)
                for d in stride(from: sizes.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * max(sizes[d + 1], 1) }
                target = Bound(base: p, labels: step.resultLabels, strides: strides)
                while slots.count <= step.result { slots.append(nil) }
                slots[step.result] = target
            }
            let scale = E.Acc(scale: step.result == Plan.outputSlot ? alpha : 1)
            guard let a = slots[step.inputs[0]] else { throw .value("einsum: internal plan error (slot \(step.inputs[0]))") }
            switch step.kind {
            case .reduce:
                let outer = target.labels.map { l in Dim(size: sizes[l], a: a.stride(of: l), b: 0, c: target.stride(of: l)) }
                let inner = a.labels.filter { !target.labels.contains($0) }.map { l in
                    Dim(size: sizes[l], a: a.stride(of: l), b: 0, c: 0)
                }
                // (The inner set is at most the operand's own element count, which fits.)
                loopKernel(a: a.base, b: nil, c: target.base, outer: outer, inner: inner, alpha: scale)
            case .contract:
                guard let b = slots[step.inputs[1]] else { throw .value("einsum: internal plan error (slot \(step.inputs[1]))") }
                try contract(a, b, into: target, alpha: scale)
            }
        }
    }

    private func contract<E: Element>(_ a: Bound<E>, _ b: Bound<E>, into c: Bound<E>, alpha: E.Acc) throws(EinsumError) {
        var p = GemmProblem(batch: [], m: [], n: [], k: [])
        var all = c.labels
        for l in a.labels + b.labels where !all.contains(l) { all.append(l) }
        for l in all {
            let inA = a.labels.contains(l), inB = b.labels.contains(l), inC = c.labels.contains(l)
            let d = Dim(size: sizes[l], a: a.stride(of: l), b: b.stride(of: l), c: c.stride(of: l))
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
            let done: Bool
            if cm < cn {
                let swapped = GemmProblem(batch: p.batch.map(swapAB), m: p.n.map(swapAB), n: p.m.map(swapAB),
                                          k: p.k.map(swapAB))
                done = try gemmKernel(a: b.base, b: a.base, c: c.base, problem: swapped, alpha: alpha)
            } else {
                done = try gemmKernel(a: a.base, b: b.base, c: c.base, problem: p, alpha: alpha)
            }
            if done { return }
        }
        loopKernel(a: a.base, b: b.base, c: c.base, outer: p.batch + p.m + p.n, inner: p.k, alpha: alpha)
    }
}

private func swapAB(_ d: Dim) -> Dim { Dim(size: d.size, a: d.b, b: d.a, c: d.c) }
