import SwiftgramKernels
import XCTest
@testable import SwiftgramCore

/// Packing into micro-panels straight from strided operands, against the panel layout's
/// definition: dst[panel][p * R + i] = src[rows[r0 + panel * R + i] + ks[k0 + p]], zero
/// past the last row.
final class PackingTests: XCTestCase {
    func check(rows: IndexMap, ks: IndexMap, r0: Int, count: Int, k0: Int, kc: Int, R: Int, rowsOuter: Bool,
               transposes: [(lanes: Int, run: TransposeFunction<Float>)], file: StaticString = #filePath, line: UInt = #line) {
        let extent = (0..<rows.count).map { rows[$0] }.max()! + (0..<ks.count).map { ks[$0] }.max()! + 1
        let src = (0..<extent).map { Float($0 % 1000) + 0.5 }
        let panels = (count + R - 1) / R
        var dst = [Float](repeating: .nan, count: panels * R * kc)
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                pack(s.baseAddress!, rows: rows, r0: r0, ks: ks, k0: k0, count: count, kc: kc, R: R,
                     rowsOuter: rowsOuter, transposes: transposes, into: d.baseAddress!)
            }
        }
        for panel in 0..<panels {
            for p in 0..<kc {
                for i in 0..<R {
                    let r = panel * R + i
                    let want = r < count ? src[rows[r0 + r] + ks[k0 + p]] : 0
                    XCTAssertEqual(dst[panel * R * kc + p * R + i], want,
                                   "panel \(panel) k \(p) row \(i) rowsOuter \(rowsOuter)", file: file, line: line)
                }
            }
        }
    }

    func testPanelsFromAnyStrides() {
        let transposeSets = [[], ISA.selected.float32.transposes]
        // (rows, ks): rows contiguous, k contiguous, both strided, and an irregular row set
        // (two dims that do not form one progression).
        let irregular = IndexMap([Dim(size: 5, a: 40, b: 0, c: 0), Dim(size: 7, a: 3, b: 0, c: 0)], { $0.a })!
        let layouts: [(IndexMap, IndexMap)] = [
            (IndexMap(count: 50, step: 1), IndexMap(count: 40, step: 50)),
            (IndexMap(count: 50, step: 40), IndexMap(count: 40, step: 1)),
            (IndexMap(count: 50, step: 97), IndexMap(count: 40, step: 3)),
            (irregular, IndexMap(count: 40, step: 211)),
        ]
        for transposes in transposeSets {
            for (rows, ks) in layouts {
                for R in [6, 8, 16, 32] {
                    for rowsOuter in [false, true] {
                        // A whole number of panels, a ragged last panel, an offset block.
                        check(rows: rows, ks: ks, r0: 0, count: rows.count / R * R, k0: 0, kc: ks.count, R: R,
                              rowsOuter: rowsOuter, transposes: transposes)
                        check(rows: rows, ks: ks, r0: 3, count: rows.count - 3, k0: 5, kc: 29, R: R,
                              rowsOuter: rowsOuter, transposes: transposes)
                    }
                }
            }
        }
    }
}
