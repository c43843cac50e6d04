// The human-readable path report, in the layout of numpy.einsum_path.
#if canImport(Glibc)
import Glibc
#endif

/// printf-style "%.{digits}e" without Foundation. Integral values (the report's counts) are
/// rounded in decimal, half to even, as Python's formatting rounds them (40065 is 4.006e+04).
func scientific(_ v: Double, digits: Int = 3) -> String {
    if v == 0 { return "0." + String(repeating: "0", count: digits) + "e+00" }
    if !v.isFinite { return "\(v)" }
    var e = Int(floor(log10(abs(v))))
    var m: Double
    if abs(v) < 1e15, v == v.rounded() {
        var n = UInt64(abs(v))
        e = String(n).count - 1
        var unit: UInt64 = 1
        for _ in 0..<max(0, e - digits) { unit *= 10 }
        let (q, r) = n.quotientAndRemainder(dividingBy: unit)
        n = q + (2 * r > unit || (2 * r == unit && q % 2 == 1) ? 1 : 0)
        for _ in 0..<max(0, digits - e) { n *= 10 }
        m = Double(n)
    } else {
        m = (abs(v) / pow(10, Double(e)) * pow(10, Double(digits))).rounded()
    }
    if m >= pow(10, Double(digits + 1)) { m /= 10; e += 1 }
    var mant = String(Int(m))
    mant.insert(".", at: mant.index(after: mant.startIndex))
    let exp = (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
    return (v < 0 ? "-" : "") + mant + "e" + exp
}

func fixed(_ v: Double, digits: Int = 3) -> String {
    let scale = pow(10, Double(digits))
    let r = (v * scale).rounded(.toNearestOrEven)  // Python's '%.3f' rounds ties to even
    let whole = Int(r / scale), frac = Int(abs(r).truncatingRemainder(dividingBy: scale))
    let f = String(frac)
    return String(whole) + "." + String(repeating: "0", count: digits - f.count) + f
}

func pad(_ s: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - s.count)) + s
}

extension Plan {
    /// Letters for printing: broadcast dims borrow letters the subscripts do not use.
    private func labelLetters() -> [String] {
        var used = Set(subscripts.inputs.joined())
        var names = (0..<subscripts.labelCount).map { labelName($0) }
        var free = (0..<letterLabelCount).filter { !used.contains($0) }.makeIterator()
        for l in letterLabelCount..<subscripts.labelCount {
            if let f = free.next() { names[l] = labelName(f); used.insert(f) } else { names[l] = "?" }
        }
        return names
    }

    /// The text numpy.einsum_path prints: scaling, FLOP counts and every step, computed as
    /// NumPy computes them (operands listed from the highest position down, an
    /// intermediate's labels by size then letter, one FLOP more in the optimized count).
    public var report: String {
        let names = labelLetters()
        func term(_ labels: [Int]) -> String { labels.map { names[$0] }.joined() }
        let all = LabelSet(subscripts.inputs.joined())
        let output = LabelSet(subscripts.output)
        // NumPy's naive count adds the inner-product term when some label is shared.
        let shared = subscripts.inputs.reduce(0) { $0 + LabelSet($1).count } > all.count
        let naive = flopCount(union: all, terms: shapes.count, inner: shared, sizes: sizes)
        var current = subscripts.inputs
        var total = 0.0, largest = 0.0, maxScale = 0
        var lines: [String] = []
        for (i, entry) in path.enumerated() {
            let taken = entry.sorted(by: >).map { current.remove(at: $0) }
            let union = LabelSet(taken.joined())
            var outside = output
            for c in current { outside = outside | LabelSet(c) }
            let kept = union & outside
            let result = i == path.count - 1 ? subscripts.output
                : kept.labels.sorted { (sizes[$0], $0) < (sizes[$1], $1) }
            total += flopCount(union: union, terms: taken.count, inner: union != kept, sizes: sizes)
            largest = max(largest, elementCount(kept, sizes))
            maxScale = max(maxScale, union.count)
            current.append(result)
            let step = taken.map(term).joined(separator: ",") + "->" + term(result)
            let remaining = current.map(term).joined(separator: ",") + "->" + term(subscripts.output)
            lines.append(pad(String(union.count), 4) + "    " + pad(step, 24) + " " + pad(remaining, 40))
        }
        total += 1
        let rule = String(repeating: "-", count: 74)
        let inputs = subscripts.inputs.map(term).joined(separator: ",")
        var text = "  Complete contraction:  \(inputs)->\(term(subscripts.output))\n"
        text += "         Naive scaling:  \(all.count)\n"
        text += "     Optimized scaling:  \(maxScale)\n"
        text += "      Naive FLOP count:  \(scientific(naive))\n"
        text += "  Optimized FLOP count:  \(scientific(total))\n"
        text += "   Theoretical speedup:  \(fixed(naive / total))\n"
        text += "  Largest intermediate:  \(scientific(largest)) elements\n"
        text += rule + "\nscaling                  current                                remaining\n" + rule
        for l in lines { text += "\n" + l }
        return text
    }
}
