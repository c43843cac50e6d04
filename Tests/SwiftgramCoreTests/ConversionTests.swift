import SwiftgramKernels
import XCTest
@testable import SwiftgramCore

/// Every ISA's vector conversions of 16-bit runs against the element types' own scalar
/// conversions (Float16's, BFloat16's), which the engine uses where an ISA has none.
final class ConversionTests: XCTestCase {
    /// `check(what, conversion, scalar)` for each 16-bit type's conversion of every
    /// supported ISA that has one (`pick`: the ISA's conversions, each with its type's name
    /// and scalar reference).
    func eachConversion<F, S>(_ pick: (ISA) -> [(String, F?, S)], _ check: (String, F, S) -> Void) {
        for isa in ISA.supported {
            for (name, conversion, scalar) in pick(isa) {
                if let conversion { check("\(isa.name) \(name)", conversion, scalar) }
            }
        }
    }

    /// Every bit pattern widens to the float32 the scalar conversion gives (NaNs: NaN).
    func testWideningEveryPattern() {
        let patterns = (0...UInt16.max).map { $0 }
        eachConversion({ isa -> [(String, WidenFunction?, (UInt16) -> Float)] in
            [("float16", isa.widenHalf, { Float16(bitPattern: $0).acc }),
             ("bfloat16", isa.widenBFloat16, { BFloat16(bits: $0).acc })]
        }) { what, widen, scalar in
            var out = [Float](repeating: 0, count: patterns.count)
            patterns.withUnsafeBufferPointer { widen($0.baseAddress!, &out, $0.count) }
            for (p, got) in zip(patterns, out) {
                let want = scalar(p)
                XCTAssert(want.isNaN ? got.isNaN : got.bitPattern == want.bitPattern,
                          "\(what) \(String(p, radix: 16)): \(got) != \(want)")
            }
        }
    }

    /// Rounding to nearest even, ties, overflow to infinity, subnormals, signed zeros,
    /// infinities and NaNs give the scalar conversion's bits (NaN: a NaN).
    func testNarrowingRoundsAsTheScalarConversion() {
        var values: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .nan, -.nan, 65504, 65519.99, 65520, 1e9,
                               6.1035156e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 1e-10, 3.3895314e38,
                               Float.greatestFiniteMagnitude, Float.leastNonzeroMagnitude, 1.0009765625, 1.00048828125,
                               1.001953125 + 0.00048828125, 1.00390625, 1.0 + 1.0 / 256 + 1.0 / 512]
        var state: UInt32 = 12345
        for _ in 0..<100_000 {  // random bit patterns: every exponent, every rounding case
            state = state &* 1_664_525 &+ 1_013_904_223
            values.append(Float(bitPattern: state))
        }
        // The scalar reference, and the widening that shows a narrowed NaN is still NaN.
        eachConversion({ isa -> [(String, NarrowFunction?, ((Float) -> UInt16, (UInt16) -> Float))] in
            [("float16", isa.narrowHalf, ({ Float16(acc: $0).bitPattern }, { Float(Float16(bitPattern: $0)) })),
             ("bfloat16", isa.narrowBFloat16, ({ BFloat16(acc: $0).bits }, { BFloat16(bits: $0).acc }))]
        }) { what, narrow, reference in
            let (scalar, widened) = reference
            var out = [UInt16](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { narrow($0.baseAddress!, &out, $0.count) }
            for (v, got) in zip(values, out) {
                let want = scalar(v)
                if v.isNaN {
                    XCTAssert(widened(got).isNaN, "\(what) NaN narrowed to \(String(got, radix: 16))")
                } else {
                    XCTAssertEqual(got, want, "\(what) \(v) (\(String(v.bitPattern, radix: 16)))")
                }
            }
        }
    }
}
