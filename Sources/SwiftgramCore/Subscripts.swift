// Parsing and validation of einsum subscripts ("ij,jk->ik", "...i,...i", "ii", ...).
//
// Labels are small integers. Letters map in ASCII order ('A'...'Z' -> 0...25, 'a'...'z' ->
// 26...51) so that sorting labels gives NumPy's implicit-output order; the dimensions that
// an ellipsis stands for get labels 52, 53, ... (right-aligned across operands, as in
// broadcasting).

public let letterLabelCount = 52

/// Human-readable name of a label, for messages and reports.
public func labelName(_ label: Int) -> String {
    if label < 26 { return String(UnicodeScalar(UInt8(65 + label))) }
    if label < 52 { return String(UnicodeScalar(UInt8(97 + label - 26))) }
    return "...[\(label - letterLabelCount)]"
}

/// The parsed form: one label per axis of every operand, and the output labels.
public struct Subscripts: Equatable {
    /// Labels of each operand's axes, ellipsis expanded (length = operand's ndim).
    public var inputs: [[Int]]
    /// Labels of the output's axes.
    public var output: [Int]
    /// Number of broadcast dimensions the ellipsis stands for (max over operands).
    public var ellipsisDims: Int
    /// Total label ids in use: letters plus broadcast dims.
    public var labelCount: Int { letterLabelCount + ellipsisDims }
}

private func letterLabel(_ c: UInt8) -> Int? {
    switch c {
    case 65...90: return Int(c) - 65
    case 97...122: return Int(c) - 97 + 26
    default: return nil
    }
}

/// One term of the subscripts string: letters, and where (if anywhere) the ellipsis sits.
private struct Term {
    var letters: [Int] = []
    var ellipsisAt: Int? = nil  // index into letters where "..." stands
}

private func parseTerm(_ chars: ArraySlice<UInt8>, what: String) throws(EinsumError) -> Term {
    var t = Term()
    var i = chars.startIndex
    while i < chars.endIndex {
        let c = chars[i]
        if c == 32 /* space */ {
            i += 1
            continue
        }
        if c == 46 /* . */ {
            guard i + 2 < chars.endIndex, chars[i + 1] == 46, chars[i + 2] == 46 else {
                throw .value("einsum subscripts: \(what) contains a '.' that is not part of an ellipsis ('...')")
            }
            if t.ellipsisAt != nil {
                throw .value("einsum subscripts: \(what) contains more than one ellipsis ('...')")
            }
            t.ellipsisAt = t.letters.count
            i += 3
            continue
        }
        guard let l = letterLabel(c) else {
            let shown = c >= 32 && c < 127 ? String(UnicodeScalar(c)) : "\\x\(String(c, radix: 16))"
            throw .value("einsum subscripts: invalid subscript '\(shown)' in \(what); subscripts must be letters (a-z, A-Z)")
        }
        t.letters.append(l)
        i += 1
    }
    return t
}

/// Parses `subscripts` for operands of the given ranks, following NumPy's rules.
public func parseSubscripts(_ text: String, ndims: [Int]) throws(EinsumError) -> Subscripts {
    // Spaces stay in: the term parser skips them, so one inside '...' or '->' breaks it
    // (NumPy's rule: "i -> i" parses, ". .." does not).
    let chars = Array(text.utf8)
    // Split off the output at "->"; a lone '-' or '>' is an error.
    var arrow: Int? = nil
    for (i, c) in chars.enumerated() where c == 45 || c == 62 {
        if c == 45, i + 1 < chars.count, chars[i + 1] == 62, arrow == nil {
            arrow = i
        } else if c == 62, let a = arrow, a + 1 == i {
            continue
        } else {
            throw .value("einsum subscripts: '-' and '>' may only appear once, together, as the output marker '->'")
        }
    }
    let inputPart = arrow.map { chars[..<$0] } ?? chars[...]
    var terms: [ArraySlice<UInt8>] = []
    var start = inputPart.startIndex
    for i in inputPart.indices where inputPart[i] == 44 /* , */ {
        terms.append(inputPart[start..<i])
        start = i + 1
    }
    terms.append(inputPart[start..<inputPart.endIndex])

    if terms.count != ndims.count {
        if terms.count < ndims.count {
            throw .value("einsum: \(ndims.count) operands were given but the subscripts name \(terms.count) (more operands provided than specified in the subscripts string)")
        }
        throw .value("einsum: \(ndims.count) operands were given but the subscripts name \(terms.count) (fewer operands provided than specified in the subscripts string)")
    }

    var parsed: [Term] = []
    var ellipsisDims = 0
    var ellipsisCounts: [Int] = []
    for (k, chunk) in terms.enumerated() {
        let t = try parseTerm(chunk, what: "operand \(k)")
        let extra = ndims[k] - t.letters.count
        if t.ellipsisAt == nil && extra > 0 {
            throw .value("einsum: operand \(k) has \(ndims[k]) dimensions but its subscripts '\(String(decoding: chunk, as: UTF8.self))' name \(t.letters.count), and there is no '...' ellipsis to broadcast the extra dimensions")
        }
        if extra < 0 {
            throw .value("einsum: operand \(k) has \(ndims[k]) dimensions but its subscripts '\(String(decoding: chunk, as: UTF8.self))' name \(t.letters.count) (too many subscripts for operand \(k))")
        }
        ellipsisCounts.append(t.ellipsisAt == nil ? 0 : extra)
        ellipsisDims = max(ellipsisDims, t.ellipsisAt == nil ? 0 : extra)
        parsed.append(t)
    }

    func expand(_ t: Term, dims: Int) -> [Int] {
        guard let at = t.ellipsisAt else { return t.letters }
        let broadcast = (ellipsisDims - dims..<ellipsisDims).map { letterLabelCount + $0 }
        return Array(t.letters[..<at]) + broadcast + Array(t.letters[at...])
    }
    let inputs = zip(parsed, ellipsisCounts).map { expand($0, dims: $1) }

    var counts = [Int](repeating: 0, count: letterLabelCount)
    for t in parsed { for l in t.letters { counts[l] += 1 } }

    var output: [Int]
    if let a = arrow {
        let t = try parseTerm(chars[(a + 2)...], what: "the output")
        var seen = [Bool](repeating: false, count: letterLabelCount)
        for l in t.letters {
            if counts[l] == 0 {
                throw .value("einsum: output subscript '\(labelName(l))' never appears in an input")
            }
            if seen[l] {
                throw .value("einsum: output subscript '\(labelName(l))' appears more than once")
            }
            seen[l] = true
        }
        // An explicit output without '...' sums the broadcast dimensions away, as
        // numpy.einsum does on its optimize path (its unoptimised path rejects it).
        output = expand(t, dims: ellipsisDims)
    } else {
        // Implicit output: broadcast dims first, then labels that appear exactly once, sorted.
        output = (0..<ellipsisDims).map { letterLabelCount + $0 }
        output += (0..<letterLabelCount).filter { counts[$0] == 1 }
    }
    return Subscripts(inputs: inputs, output: output, ellipsisDims: ellipsisDims)
}

/// Each label's size from the operand shapes (indexed by label). A size-1 axis broadcasts
/// against any size; other sizes of a label must agree, and a label repeated in one operand
/// must have one size there (its diagonal). With `unknown` allowed, -1 in a shape is a
/// dimension known only at run time (a framework's static shape): a label then takes a
/// known size other than 1 if any operand has one, else -1 if any axis is unknown, else 1.
public func labelSizes(_ s: Subscripts, shapes: [[Int]], unknown allowUnknown: Bool = false) throws(EinsumError) -> [Int] {
    let unseen = -2, unknown = -1
    // Which size wins for a label: a known size other than 1, then unknown, then 1.
    func rank(_ d: Int) -> Int { d == unseen ? 0 : d == 1 ? 1 : d == unknown ? 2 : 3 }
    var size = [Int](repeating: unseen, count: s.labelCount)
    var from = [Int](repeating: -1, count: s.labelCount)
    for (k, labels) in s.inputs.enumerated() {
        for (axis, l) in labels.enumerated() {
            let d = shapes[k][axis]
            if d < 0 && !(allowUnknown && d == unknown) { throw .value("einsum: operand \(k) has a negative dimension \(d)") }
            // Repeated labels within one operand take a diagonal: sizes must agree exactly.
            if let prev = labels[..<axis].firstIndex(of: l), shapes[k][prev] != d, shapes[k][prev] != unknown, d != unknown {
                throw .value("einsum: label '\(labelName(l))' repeats in operand \(k) with different sizes (\(shapes[k][prev]) != \(d)), so its diagonal is undefined")
            }
            if rank(d) > rank(size[l]) {
                size[l] = d
                from[l] = k
            } else if rank(d) == 3 && size[l] != d {
                throw .value("einsum: label '\(labelName(l))': operand \(k) has size \(d), operand \(from[l]) has \(size[l])")
            }
        }
    }
    return size.map { $0 == unseen ? 1 : $0 }
}
