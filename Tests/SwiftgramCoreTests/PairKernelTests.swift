import CSupport
import SwiftgramKernels
import XCTest
@testable import SwiftgramCore

/// The bfloat16 kernels over pairs of k (Microkernel.pairs) this CPU runs, and the packing
/// that feeds them, against their definitions computed element by element.
final class PairKernelTests: XCTestCase {
    /// The registry's pair kernels this CPU runs (none on a CPU without AVX512-BF16: then
    /// only the packing below is checked).
    var kernels: [(String, Microkernel<Float>)] {
        ISA.supported.compactMap { isa in isa.bfloat16Pairs.map { (isa.name, $0) } }
    }

    func testRegistryOffersPairsWhereTheCPUHasThem() {
        XCTAssertEqual(ISA.supported.contains { $0.name == "avx512bf16" }, sg_cpu_has_avx512_bf16() != 0)
        for (name, k) in kernels {
            XCTAssertTrue(k.pairs, name)
            XCTAssertNotNil(k.narrow, name)
        }
    }

    /// A tile of `kp` pairs: small integers, so every product and sum is exact in float32
    /// and the kernel's order of summation cannot show.
    func testEveryRunnablePairKernel() {
        for (name, k) in kernels {
            let kp = 19
            let a = (0..<kp * k.mr * 2).map { BFloat16(acc: Float(($0 * 7) % 11 - 5)) }
            let b = (0..<kp * k.nr * 2).map { BFloat16(acc: Float(($0 * 5) % 13 - 6)) }
            // Slot (p, i) of a panel with R rows: values 2p and 2p + 1 of row i.
            func words(_ x: [BFloat16], _ R: Int) -> [Float] {
                (0..<kp * R).map { Float(bitPattern: UInt32(x[2 * $0].bits) | UInt32(x[2 * $0 + 1].bits) << 16) }
            }
            let pa = words(a, k.mr), pb = words(b, k.nr)
            for narrow in [false, true] {
                let width = narrow ? k.nr / 2 : k.nr
                for (mr, nr, cs) in [(k.mr, width, 1), (k.mr - 1, width - 3, 1), (2, width, 3)] {
                    for accumulate in [false, true] {
                        let ldc = k.nr * cs + 5
                        var c = [Float](repeating: 1, count: ldc * k.mr)
                        let rowOff = (0..<k.mr).map { $0 * ldc }
                        c.withUnsafeMutableBufferPointer { cp in
                            let tile = Tile(kc: kp, a: pa, aStep: k.mr, b: pb, bStep: k.nr, c: cp.baseAddress!,
                                            rowOff: rowOff, cs: cs, mr: mr, nr: nr, alpha: 2, accumulate: accumulate)
                            if narrow { k.narrow!(tile) } else { k.run(tile) }
                        }
                        for i in 0..<k.mr {
                            for j in 0..<k.nr {
                                var want: Float = 1
                                if i < mr && j < nr {
                                    var s: Float = 0
                                    for p in 0..<2 * kp { s += a[(p / 2 * k.mr + i) * 2 + p % 2].acc * b[(p / 2 * k.nr + j) * 2 + p % 2].acc }
                                    want = 2 * s + (accumulate ? 1 : 0)
                                }
                                XCTAssertEqual(c[i * ldc + j * cs], want,
                                               "\(name) narrow=\(narrow) mr=\(mr) nr=\(nr) cs=\(cs) acc=\(accumulate) (\(i),\(j))")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Pair panels from any strides: slot p of row i holds elements k0 + 2p (low half) and
    /// k0 + 2p + 1 (high half, zero past kc) of row r0 + i; rows past `count` are zero.
    func checkPacking(rows: IndexMap, ks: IndexMap, r0: Int, count: Int, k0: Int, kc: Int, R: Int, rowsOuter: Bool,
                      transposes: [(lanes: Int, run: TransposeFunction<Float>)], offset: Int,
                      file: StaticString = #filePath, line: UInt = #line) {
        let extent = (0..<rows.count).map { rows[$0] }.max()! + (0..<ks.count).map { ks[$0] }.max()! + 1 + offset
        let src = (0..<extent).map { UInt16(truncatingIfNeeded: $0 * 37 + 1) }
        let steps = (kc + 1) / 2, panels = (count + R - 1) / R
        var dst = [UInt32](repeating: 0x7FC0_0001, count: panels * R * steps)
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                packPairs(s.baseAddress! + offset, rows: rows, r0: r0, ks: ks, k0: k0, count: count, kc: kc, R: R,
                          rowsOuter: rowsOuter, interleave: { interleavePairs($0, $1, $2, $3, $4, $5) },
                          transposes: transposes, into: d.baseAddress!)
            }
        }
        for panel in 0..<panels {
            for p in 0..<steps {
                for i in 0..<R {
                    let r = panel * R + i
                    func value(_ k: Int) -> UInt32 {
                        r < count && k < kc ? UInt32(src[offset + rows[r0 + r] + ks[k0 + k]]) : 0
                    }
                    XCTAssertEqual(dst[panel * R * steps + p * R + i], value(2 * p) | value(2 * p + 1) << 16,
                                   "panel \(panel) pair \(p) row \(i) rowsOuter \(rowsOuter) kc \(kc)",
                                   file: file, line: line)
                }
            }
        }
    }

    func testPairPanelsFromAnyStrides() {
        let irregular = IndexMap([Dim(size: 5, a: 40, b: 0, c: 0), Dim(size: 7, a: 3, b: 0, c: 0)], { $0.a })!
        let layouts: [(IndexMap, IndexMap)] = [
            (IndexMap(count: 50, step: 1), IndexMap(count: 40, step: 50)),   // rows contiguous
            (IndexMap(count: 50, step: 40), IndexMap(count: 40, step: 1)),   // k contiguous, even row step
            (IndexMap(count: 50, step: 41), IndexMap(count: 40, step: 1)),   // k contiguous, odd row step
            (IndexMap(count: 50, step: 97), IndexMap(count: 40, step: 3)),
            (irregular, IndexMap(count: 40, step: 211)),
        ]
        // The transposes of every ISA that has pairs, and none (the element loop).
        let transposeSets = [[]] + kernels.map { $0.1.transposes }
        for transposes in transposeSets {
            for (rows, ks) in layouts {
                for R in [8, 32] {
                    for rowsOuter in [false, true] {
                        // Word-aligned and not (offset 1), whole panels, a ragged last panel,
                        // an offset block with an odd number of k steps.
                        for offset in [0, 1] {
                            checkPacking(rows: rows, ks: ks, r0: 0, count: rows.count / R * R, k0: 0, kc: ks.count, R: R,
                                         rowsOuter: rowsOuter, transposes: transposes, offset: offset)
                            checkPacking(rows: rows, ks: ks, r0: 3, count: rows.count - 3, k0: 5, kc: 29, R: R,
                                         rowsOuter: rowsOuter, transposes: transposes, offset: offset)
                        }
                    }
                }
            }
        }
    }
}
