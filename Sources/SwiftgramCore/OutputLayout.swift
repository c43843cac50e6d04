// The memory order of a new result under order='K': the one numpy.einsum's iterator picks.

extension Plan {
    /// Output axes, fastest first, for operands with these strides (all operands' axes
    /// together, in any one unit per operand; only their order within an operand matters).
    ///
    /// NumPy iterates over the output labels, then the summed labels in increasing letter
    /// order, and sorts those axes by stride with its iterator's stable insertion sort: an
    /// axis moves before another only if some operand that strides along both strides it
    /// less (operands where either stride is 0 do not vote). The result takes the output
    /// axes in that order, so it is laid out like its operands.
    public func outputOrder(operandStrides: [Int]) -> [Int] {
        let output = subscripts.output
        var summed = LabelSet(subscripts.inputs.joined()) - LabelSet(output)
        var labels = output
        // Broadcast labels (ids 52+) summed away come after the letters, as ids order them.
        while !summed.isEmpty {
            let l = summed.bits.trailingZeroBitCount
            labels.append(l)
            summed = summed - LabelSet([l])
        }
        var at = 0
        let strides: [[Int]] = shapes.indices.map { k in
            defer { at += shapes[k].count }
            return combinedStrides(operand: k, labels: labels, axisStrides: operandStrides[at..<at + shapes[k].count])
        }
        // NumPy's iterator holds the axes fastest first (reversed C order) and sorts them so.
        var order = Array(labels.indices.reversed())
        for i0 in 1..<max(order.count, 1) {
            let axis = order[i0]
            var position = i0
            search: for i1 in stride(from: i0 - 1, through: 0, by: -1) {
                var ambiguous = true, swap = false
                for s in strides where s[axis] != 0 && s[order[i1]] != 0 {
                    if abs(s[order[i1]]) > abs(s[axis]) {
                        if ambiguous { swap = true }
                    } else {
                        swap = false
                    }
                    ambiguous = false
                }
                if !ambiguous {
                    if swap { position = i1 } else { break search }
                }
            }
            if position != i0 { order.insert(order.remove(at: i0), at: position) }
        }
        return order.filter { $0 < output.count }
    }
}
