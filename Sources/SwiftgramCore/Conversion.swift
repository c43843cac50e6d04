// Operands of another dtype than the computation's (NumPy's mixed-dtype einsum): the core
// reads each one once, converted into a scratch copy of the computation's element type,
// so the caller makes no copies and the call stays one crossing of the ABI.

/// A value of any accumulator, widened without loss for the conversions the core makes.
public enum Widened {
    case bool(Bool), integer(Int64), real(Double), complex(Double, Double)
}

extension Bool { @inline(__always) public var widened: Widened { .bool(self) } }
extension Int64 { @inline(__always) public var widened: Widened { .integer(self) } }
extension Float { @inline(__always) public var widened: Widened { .real(Double(self)) } }
extension Double { @inline(__always) public var widened: Widened { .real(self) } }
extension Complex { @inline(__always) public var widened: Widened { .complex(Double(re), Double(im)) } }

/// Reading a widened value as an accumulator: NumPy's cast of that value (booleans to 0 or
/// 1, integers rounded to the nearest float, reals to complex with a zero imaginary part).
/// Only the directions `DType.reads(_:)` allows are ever taken; the others are total
/// anyway (nothing traps), with C's conversions where they are defined.
extension Bool {
    @inline(__always) public init(reading w: Widened) {
        switch w {
        case .bool(let b): self = b
        case .integer(let v): self = v != 0
        case .real(let x): self = x != 0
        case .complex(let re, let im): self = re != 0 || im != 0
        }
    }
}
extension Int64 {
    @inline(__always) public init(reading w: Widened) {
        switch w {
        case .bool(let b): self = b ? 1 : 0
        case .integer(let v): self = v
        case .real(let x), .complex(let x, _): self = x.isFinite && abs(x) < 0x1p63 ? Int64(x) : .min
        }
    }
}
extension Float {
    @inline(__always) public init(reading w: Widened) {
        switch w {
        case .bool(let b): self = b ? 1 : 0
        case .integer(let v): self = Float(v)
        case .real(let x), .complex(let x, _): self = Float(x)
        }
    }
}
extension Double {
    @inline(__always) public init(reading w: Widened) {
        switch w {
        case .bool(let b): self = b ? 1 : 0
        case .integer(let v): self = Double(v)
        case .real(let x), .complex(let x, _): self = x
        }
    }
}
extension Complex {
    @inline(__always) public init(reading w: Widened) {
        switch w {
        case .bool(let b): self.init(b ? 1 : 0, 0)
        case .integer(let v): self.init(R(v), 0)
        case .real(let x): self.init(R(x), 0)
        case .complex(let re, let im): self.init(R(re), R(im))
        }
    }
}

extension DType {
    /// The dtype's kind ("b" bool, "i" signed, "u" unsigned, "f" real, "c" complex) and the
    /// bits of its value (of each part for complex), as NumPy's casting rules see it.
    private var numeric: (kind: Character, bits: Int) {
        switch self {
        case .bool: return ("b", 1)
        case .int8: return ("i", 8)
        case .int16: return ("i", 16)
        case .int32: return ("i", 32)
        case .int64: return ("i", 64)
        case .uint8: return ("u", 8)
        case .uint16: return ("u", 16)
        case .uint32: return ("u", 32)
        case .uint64: return ("u", 64)
        case .float16: return ("f", 16)
        case .float32: return ("f", 32)
        case .float64: return ("f", 64)
        case .bfloat16: return ("f", 16)
        case .complex64: return ("c", 32)
        case .complex128: return ("c", 64)
        }
    }

    /// Whether the core reads operands of dtype `source` converted to this one: exactly
    /// NumPy's safe casts between the core's dtypes (np.can_cast(source, self, 'safe')),
    /// except from uint64 (beyond the Int64 the core widens integers to) and from or into
    /// bfloat16 (the callers convert those).
    public func reads(_ source: DType) -> Bool {
        if source == self { return true }
        if source == .uint64 || source == .bfloat16 || self == .bfloat16 { return false }
        let (s, t) = (source.numeric, numeric)
        // The significand bits each floating type holds exactly (integers convert within them).
        func exactBits(_ bits: Int) -> Int { bits == 16 ? 11 : bits == 32 ? 24 : 53 }
        switch (s.kind, t.kind) {
        case ("b", _): return true
        case ("i", "i"), ("u", "u"): return t.bits >= s.bits
        case ("u", "i"): return t.bits > s.bits
        case ("i", "f"), ("u", "f"), ("i", "c"), ("u", "c"):
            // int64 to float64 is safe in NumPy, though it rounds beyond 2^53.
            return t.bits == 64 || exactBits(t.bits) > s.bits
        case ("f", "f"), ("f", "c"), ("c", "c"): return t.bits >= s.bits
        default: return false
        }
    }
}

/// What every accumulator provides for conversions (Accumulator refines it).
public protocol Convertible {
    var widened: Widened { get }
    init(reading: Widened)
}
extension Bool: Convertible {}
extension Int64: Convertible {}
extension Float: Convertible {}
extension Double: Convertible {}
extension Complex: Convertible {}

/// The layout of an operand's converted copy: row-major over the axes that have a nonzero
/// stride and more than one element (a broadcast axis stays stride 0: nothing is
/// materialised); its element strides and element count.
func denseStrides(shape: [Int], strides: [Int]) -> (strides: [Int], count: Int) {
    var dense = [Int](repeating: 0, count: shape.count), count = 1
    for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 1 && strides[d] != 0 {
        dense[d] = count
        count *= shape[d]  // at most the operand's own element count, which fits
    }
    return (dense, shape.contains(0) ? 0 : count)
}

/// Converts n elements of one dtype, `step` elements apart, into n consecutive ones of
/// another (the raw pointers' element types are the conversion's).
typealias RowConversion = (_ source: UnsafeRawPointer, _ step: Int, _ target: UnsafeMutableRawPointer, _ n: Int) -> Void

/// A row conversion handed over in a box, so the compiler keeps one copy walk for all.
final class RowConverter {
    let run: RowConversion
    init(_ run: @escaping RowConversion) { self.run = run }
}

/// The row conversion from S to T: only this loop is made per pair of types (the copy's
/// walk over the operand is one function for all of them).
@inline(__always)
func rowConversion<S: Element, T: Element>(_: S.Type, _: T.Type) -> RowConversion {
    { source, step, target, n in
        let (s, t) = (source.assumingMemoryBound(to: S.self), target.assumingMemoryBound(to: T.self))
        for j in 0..<n { t[j] = T(acc: T.Acc(reading: s[j &* step].acc.widened)) }
    }
}

/// A copy of an operand (shape, element strides; elements of `sourceSize` bytes) converted
/// row by row into elements of `targetSize` bytes, laid out as `denseStrides` says; the
/// caller frees it. Large copies are cut into pieces of the elements in copy order, one per
/// item of the parallel loop (a piece may start and end inside a row). Never inlined, and
/// handed its conversion boxed: the compiler would otherwise copy this walk into each of
/// the 225 pairs' conversions (600 KB of code).
@inline(never)
func convertedCopy(_ source: UnsafeRawPointer, sourceSize: Int, targetSize: Int, _ convert: RowConverter,
                   shape: [Int], strides: [Int]) throws(EinsumError) -> UnsafeMutableRawPointer {
    let (dense, count) = denseStrides(shape: shape, strides: strides)
    guard case (let bytes, false) = max(count, 1).multipliedReportingOverflow(by: targetSize) else {
        throw EinsumError(.memory, "einsum: a converted operand of \(count) elements is too large to allocate")
    }
    let copy = UnsafeMutableRawPointer(try allocate(UInt8.self, count: bytes, what: "a converted operand of \(count) elements"))
    if count == 0 { return copy }
    let dims = shape.indices.filter { dense[$0] != 0 }.map { Dim(size: shape[$0], a: strides[$0], b: 0, c: dense[$0]) }
    let row = dims.last ?? Dim(size: 1, a: 0, b: 0, c: 1), outer = Array(dims.dropLast())
    let threads = Threads.count, pieces = threads > 1 && count >= parallelLoopWork ? 4 * threads : 1
    parallelFor(pieces, threads: threads) { p, _ in
        let (first, last) = (count * p / pieces, count * (p + 1) / pieces)
        var o = Odometer(outer, start: first / row.size)
        var at = first, i = first % row.size
        while at < last {
            let end = min(row.size, i + last - at)
            convert.run(source + (o.a + i * row.a) * sourceSize, row.a, copy + (o.c + i) * targetSize, end - i)
            (at, i) = (at + end - i, 0)
            o.next()
        }
    }
    return copy
}

/// A converted copy of an operand of dtype `from` as element type T (see `convertedCopy`).
func convert<T: Element>(_ source: UnsafeMutableRawPointer, from: DType, to _: T.Type,
                         shape: [Int], strides: [Int]) throws(EinsumError) -> UnsafeMutablePointer<T> {
    try from.with(ConvertedCopy<T>(source: source, shape: shape, strides: strides))
}

/// `convertedCopy` from element type S (the work `DType.with` opens) to T.
private struct ConvertedCopy<T: Element>: ElementWork {
    let source: UnsafeMutableRawPointer, shape: [Int], strides: [Int]
    func run<S: Element>(_: S.Type) throws(EinsumError) -> UnsafeMutablePointer<T> {
        try convertedCopy(source, sourceSize: MemoryLayout<S>.stride, targetSize: MemoryLayout<T>.stride,
                          RowConverter(rowConversion(S.self, T.self)), shape: shape, strides: strides).assumingMemoryBound(to: T.self)
    }
}

extension Plan {
    /// Runs the contraction on raw arguments: one data pointer per operand, every operand's
    /// element strides concatenated, and the output's. Counts are the plan's (the caller
    /// has checked the shapes). `operandTypes` (nil: every operand is `dtype`) names each
    /// operand's dtype: one of another dtype is read converted to `dtype` (`DType.reads`).
    public func execute(dtype: DType, operandTypes: UnsafePointer<Int32>? = nil, data: UnsafePointer<UnsafeRawPointer?>,
                        strides: UnsafePointer<Int64>?, output: UnsafeMutableRawPointer,
                        outputStrides: UnsafePointer<Int64>?, alpha: Double = 1, accumulate: Bool = false) throws(EinsumError) {
        if outputCount == 0 { return }
        var converted: [(operand: Int, from: DType)] = []
        if let operandTypes {
            for k in shapes.indices where operandTypes[k] != dtype.code {
                guard let from = DType(code: operandTypes[k]), dtype.reads(from) else {
                    let name = DType(code: operandTypes[k])?.name ?? "code \(operandTypes[k])"
                    throw EinsumError(.type, "einsum: operand \(k) has dtype \(name), which the core does not read as \(dtype.name)")
                }
                converted.append((k, from))
            }
        }
        if converted.isEmpty {
            return try execute(dtype: dtype, data: data, strides: strides, output: output, outputStrides: outputStrides,
                               alpha: alpha, accumulate: accumulate, converting: [])
        }
        // The converted operands' copies are dense: the binding is made for their strides.
        var all = (0..<operandStrideCount).map { strides![$0] }
        var at = [Int](), offset = 0
        for k in shapes.indices { at.append(offset); offset += shapes[k].count }
        var conversions: [Conversion] = []
        for (k, from) in converted {
            let own = (0..<shapes[k].count).map { Int(all[at[k] + $0]) }
            conversions.append(Conversion(operand: k, from: from, strides: own))
            for (d, st) in denseStrides(shape: shapes[k], strides: own).strides.enumerated() { all[at[k] + d] = Int64(st) }
        }
        try all.withUnsafeBufferPointer { s throws(EinsumError) in
            try execute(dtype: dtype, data: data, strides: s.baseAddress, output: output, outputStrides: outputStrides,
                        alpha: alpha, accumulate: accumulate, converting: conversions)
        }
    }

    /// An operand read converted: its dtype and its own element strides.
    struct Conversion {
        let operand: Int
        let from: DType
        let strides: [Int]
    }

}
