// Element types the engine computes with.
//
// An `Element` is what lives in memory (the NumPy dtype); its `Acc` is what the kernels
// compute in. Most types compute in themselves; float16 computes in float32, and every
// integer type computes in wrapping Int64 (truncating back gives exactly NumPy's wrapping
// arithmetic, since + and * commute with reduction modulo 2^k).
import KernelsAVX512
import KernelsAVX2
import KernelsPortable
import SwiftgramKernels

/// NumPy dtypes understood by the core (their ABI codes: Codes.swift).
public enum DType: CaseIterable {
    case bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64
    case float16, float32, float64, complex64, complex128, bfloat16

    public var name: String { String(describing: self) }
}

public protocol Accumulator: Convertible {
    static var zero: Self { get }
    static var one: Self { get }
    static func add(_ a: Self, _ b: Self) -> Self
    static func mul(_ a: Self, _ b: Self) -> Self
    /// The scale factor applied on store (alpha), from the ABI's double.
    init(scale: Double)
    /// The register-blocked kernel for this type on this machine.
    static var microkernel: Microkernel<Self> { get }
    /// A vectorised unit-stride reduction, where this machine has one for the type.
    static var dot: DotFunction<Self>? { get }
    /// A vectorised sweep of four terms across a row of sums, where this machine has one.
    static var sweep: SweepFunction<Self>? { get }
    /// The sum of n > 0 copies of self, as one multiplication (a broadcast operand's sum).
    func repeated(_ n: Int) -> Self
    /// Self times the result scale `alpha` (made by `init(scale:)`, so real).
    func scaled(by alpha: Self) -> Self
}

extension Accumulator {
    public static var dot: DotFunction<Self>? { nil }
    public static var sweep: SweepFunction<Self>? { nil }
    @inline(__always) public func scaled(by alpha: Self) -> Self { Self.mul(alpha, self) }
}

public protocol Element {
    associatedtype Acc: Accumulator
    var acc: Acc { get }
    init(acc: Acc)
    /// The selected ISA's conversions of runs of this type to and from float32, where it
    /// has vector ones (the 16-bit floats); nil: element by element.
    static var conversions: (widen: WidenFunction?, narrow: NarrowFunction?) { get }
    /// The selected ISA's kernel over pairs of k for this type (Microkernel.pairs), where
    /// it has one; nil: the accumulator's kernel over widened values.
    static var pairKernel: Microkernel<Acc>? { get }
}

extension Element {
    public static var conversions: (widen: WidenFunction?, narrow: NarrowFunction?) { (nil, nil) }
    public static var pairKernel: Microkernel<Acc>? { nil }
}

extension Element where Acc == Self {
    @inline(__always) public var acc: Acc { self }
    @inline(__always) public init(acc: Acc) { self = acc }
}

// MARK: floating point

extension Float: Accumulator, Element {
    public static var one: Float { 1 }
    @inline(__always) public static func add(_ a: Float, _ b: Float) -> Float { a + b }
    @inline(__always) public static func mul(_ a: Float, _ b: Float) -> Float { a * b }
    public init(scale: Double) { self = Float(scale) }
    @inline(__always) public func repeated(_ n: Int) -> Float { self * Float(n) }
    public static var microkernel: Microkernel<Float> { ISA.selected.float32 }
    public static var dot: DotFunction<Float>? { ISA.selected.dot32 }
    public static var sweep: SweepFunction<Float>? { ISA.selected.sweep32 }
}

extension Double: Accumulator, Element {
    public static var one: Double { 1 }
    @inline(__always) public static func add(_ a: Double, _ b: Double) -> Double { a + b }
    @inline(__always) public static func mul(_ a: Double, _ b: Double) -> Double { a * b }
    public init(scale: Double) { self = scale }
    @inline(__always) public func repeated(_ n: Int) -> Double { self * Double(n) }
    public static var microkernel: Microkernel<Double> { ISA.selected.float64 }
    public static var dot: DotFunction<Double>? { ISA.selected.dot64 }
    public static var sweep: SweepFunction<Double>? { ISA.selected.sweep64 }
}

extension Float16: Element {
    public static var conversions: (widen: WidenFunction?, narrow: NarrowFunction?) {
        (ISA.selected.widenHalf, ISA.selected.narrowHalf)
    }
    /// Widened with integer and float32 arithmetic the compiler vectorises: the core is
    /// built for baseline x86-64, where Float(self) is a library call per element (no F16C).
    /// Shifted into float32's fields, a half's exponent is 112 short (normals and
    /// subnormals alike); all-ones exponents are infinities and NaNs, payload kept.
    @inline(__always) public var acc: Float {
        let em = UInt32(bitPattern & 0x7FFF), sign = UInt32(bitPattern & 0x8000) << 16
        let finite = Float(bitPattern: em << 13) * 0x1p112
        let special = Float(bitPattern: (em << 13) | 0x7F80_0000)
        return Float(bitPattern: (em >= 0x7C00 ? special : finite).bitPattern | sign)
    }
    /// Rounded to nearest even the same way, with selects rather than a library call:
    /// subnormal results are aligned by adding 0.5 (the float32 addition rounds them), normal
    /// ones rebiased with the rounding carry added into the kept bits, and at or above 65536
    /// (after rounding) they are infinite; NaN stays a quiet NaN.
    @inline(__always) public init(acc: Float) {
        let x = acc.bitPattern, sign = x & 0x8000_0000, a = x ^ sign
        let subnormal = (Float(bitPattern: a) + 0.5).bitPattern &- 0x3F00_0000
        let normal = (a &+ 0xC800_0FFF &+ ((a >> 13) & 1)) >> 13
        let special: UInt32 = a > 0x7F80_0000 ? 0x7E00 : 0x7C00
        let h = a >= 0x4780_0000 ? special : a < 0x3880_0000 ? subnormal : normal
        self.init(bitPattern: UInt16(truncatingIfNeeded: h | (sign >> 16)))
    }
}

/// bfloat16 (ml_dtypes' and the frameworks'): float32's upper 16 bits. It computes in
/// float32; results round to nearest even, as ml_dtypes converts, NaN staying NaN.
public struct BFloat16: Element, Equatable {
    public var bits: UInt16
    public static var conversions: (widen: WidenFunction?, narrow: NarrowFunction?) {
        (ISA.selected.widenBFloat16, ISA.selected.narrowBFloat16)
    }
    public static var pairKernel: Microkernel<Float>? { ISA.selected.bfloat16Pairs }
    @inline(__always) public init(bits: UInt16) { self.bits = bits }
    @inline(__always) public var acc: Float { Float(bitPattern: UInt32(bits) << 16) }
    @inline(__always) public init(acc: Float) {
        let b = acc.bitPattern
        if acc.isNaN {
            bits = UInt16(truncatingIfNeeded: b >> 16) | 0x40  // quiet, sign kept
        } else {
            bits = UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
        }
    }
}

// MARK: complex

/// Minimal complex number (the core depends on no package outside the toolchain).
public struct Complex<R: BinaryFloatingPoint>: Accumulator, Element, Equatable {
    public var re: R
    public var im: R
    @inline(__always) public init(_ re: R, _ im: R) { self.re = re; self.im = im }
    public static var zero: Complex { Complex(0, 0) }
    public static var one: Complex { Complex(1, 0) }
    @inline(__always) public static func add(_ a: Complex, _ b: Complex) -> Complex {
        Complex(a.re + b.re, a.im + b.im)
    }
    @inline(__always) public static func mul(_ a: Complex, _ b: Complex) -> Complex {
        Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    public init(scale: Double) { self.init(R(scale), 0) }
    @inline(__always) public func repeated(_ n: Int) -> Complex { Complex(re * R(n), im * R(n)) }
    /// A real scale multiplies each part: the complex product would turn inf * 0 into NaN
    /// (inf+0j times 1+0j), which an unscaled NumPy result does not have.
    @inline(__always) public func scaled(by alpha: Complex) -> Complex { Complex(re * alpha.re, im * alpha.re) }
    public static var microkernel: Microkernel<Complex> { scalarMicrokernel() }
}

// MARK: integers and bool

extension Int64: Accumulator, Element {
    public static var one: Int64 { 1 }
    @inline(__always) public static func add(_ a: Int64, _ b: Int64) -> Int64 { a &+ b }
    @inline(__always) public static func mul(_ a: Int64, _ b: Int64) -> Int64 { a &* b }
    public init(scale: Double) { self = 1 }  // integer results are never scaled in the core
    @inline(__always) public func repeated(_ n: Int) -> Int64 { self &* Int64(truncatingIfNeeded: n) }
    public static var microkernel: Microkernel<Int64> { scalarMicrokernel() }
}

/// Narrower integers compute in wrapping Int64 and truncate on store.
public protocol WrappingInteger: FixedWidthInteger, Element where Acc == Int64 {}
extension WrappingInteger {
    @inline(__always) public var acc: Int64 { Int64(truncatingIfNeeded: self) }
    @inline(__always) public init(acc: Int64) { self.init(truncatingIfNeeded: acc) }
}
extension Int8: WrappingInteger {}
extension Int16: WrappingInteger {}
extension Int32: WrappingInteger {}
extension UInt8: WrappingInteger {}
extension UInt16: WrappingInteger {}
extension UInt32: WrappingInteger {}
extension UInt64: WrappingInteger {}

extension Bool: Accumulator, Element {
    // NumPy's boolean einsum: sum is logical or, product is logical and.
    public static var zero: Bool { false }
    public static var one: Bool { true }
    @inline(__always) public static func add(_ a: Bool, _ b: Bool) -> Bool { a || b }
    @inline(__always) public static func mul(_ a: Bool, _ b: Bool) -> Bool { a && b }
    public init(scale: Double) { self = true }
    @inline(__always) public func repeated(_ n: Int) -> Bool { self }
    public static var microkernel: Microkernel<Bool> { scalarMicrokernel() }
}

/// Portable scalar kernel (4x4 block) for types without a SIMD kernel; same contract as
/// `simdMicrokernel`, packing B as it reads it too (Tile.bCopy).
func scalarMicrokernel<T: Accumulator>() -> Microkernel<T> {
    Microkernel(mr: 4, nr: 4) { k in
        withUnsafeTemporaryAllocation(of: T.self, capacity: 16) { t in
            t.initialize(repeating: T.zero)
            for p in 0..<k.kc {
                let pa = k.a + k.aStep * p, pb = k.b + k.bStep * p
                if let copy = k.bCopy { for j in 0..<4 { copy[4 * p + j] = pb[j] } }
                for i in 0..<4 {
                    let ai = pa[i]
                    for j in 0..<4 { t[4 * i + j] = T.add(t[4 * i + j], T.mul(ai, pb[j])) }
                }
            }
            for i in 0..<k.mr {
                let row = k.c + k.rowOff[i]
                for j in 0..<k.nr {
                    let v = t[4 * i + j].scaled(by: k.alpha)
                    row[j * k.cs] = k.accumulate ? T.add(row[j * k.cs], v) : v
                }
            }
        }
    }
}

extension DType {
    public var isIntegerOrBool: Bool {
        switch self {
        case .float16, .float32, .float64, .complex64, .complex128, .bfloat16: return false
        default: return true
        }
    }
}

/// Work generic over an element type, for a dtype named at run time (`DType.with`).
protocol ElementWork {
    associatedtype Result
    func run<E: Element>(_: E.Type) throws(EinsumError) -> Result
}

extension DType {
    /// Runs `work` with this dtype's element type: the one place a run-time dtype becomes a
    /// type. Each case names its type, so every use is specialised (a type opened from a
    /// list at run time would run the unspecialised generic code, ~100x slower).
    func with<W: ElementWork>(_ work: W) throws(EinsumError) -> W.Result {
        switch self {
        case .bool: return try work.run(Bool.self)
        case .int8: return try work.run(Int8.self)
        case .int16: return try work.run(Int16.self)
        case .int32: return try work.run(Int32.self)
        case .int64: return try work.run(Int64.self)
        case .uint8: return try work.run(UInt8.self)
        case .uint16: return try work.run(UInt16.self)
        case .uint32: return try work.run(UInt32.self)
        case .uint64: return try work.run(UInt64.self)
        case .float16: return try work.run(Float16.self)
        case .float32: return try work.run(Float.self)
        case .float64: return try work.run(Double.self)
        case .complex64: return try work.run(Complex<Float>.self)
        case .complex128: return try work.run(Complex<Double>.self)
        case .bfloat16: return try work.run(BFloat16.self)
        }
    }
}
