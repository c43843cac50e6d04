import XCTest
@testable import SwiftgramCore

/// Deterministic small integers (exact in every dtype) from a seed.
func values(_ seed: Int) -> (Int) -> Int {
    { i in ((i &* 2654435761 &+ seed &* 40503) >> 7) % 7 - 3 }
}

final class EngineTests: XCTestCase {
    let specs: [(String, [[Int]])] = [
        ("ij,jk->ik", [[5, 7], [7, 3]]),
        ("ij,jk->ki", [[13, 20], [20, 9]]),                  // GEMM with transposed output
        ("ahwm,ahwn->amn", [[2, 3, 4, 9], [2, 3, 4, 11]]),   // the Gram
        ("acbd,dcfe->abef", [[3, 4, 5, 6], [6, 4, 5, 7]]),   // permuted contraction
        ("acbd,dcfe->abef", [[2, 2, 9, 3], [3, 2, 16, 24]]),  // B packed by block transpositions
        ("ii->i", [[4, 4]]),
        ("ii", [[5, 5]]),
        ("ij->", [[3, 4]]),
        ("i,j->ij", [[3], [4]]),
        ("i,i->i", [[6], [6]]),
        ("...i,...i->...", [[2, 3, 4], [3, 4]]),
        ("...i,...i->i", [[2, 3, 4], [3, 4]]),               // broadcast dims summed away
        ("ij,ij,ij->j", [[3, 5], [3, 5], [3, 5]]),
        ("ab,bc,cd,de->ae", [[3, 4], [4, 5], [5, 6], [6, 2]]),
        ("iij,jk->ik", [[3, 3, 4], [4, 5]]),
        ("ij,jk", [[1, 4], [4, 6]]),
        (",i->i", [[], [3]]),
        ("ij,jk->ik", [[0, 3], [3, 2]]),                     // empty output
        ("ij,jk->ik", [[2, 0], [0, 3]]),                     // empty sum: zeros
        ("bmk,bnk->bmn", [[3, 20, 33], [3, 17, 33]]),
    ]

    func check<E: Element & Equatable>(_: E.Type, dtype: DType, make: @escaping (Int) -> E,
                                       file: StaticString = #filePath, line: UInt = #line) throws {
        for (spec, shapes) in specs {
            let ops = shapes.enumerated().map { k, s in TestTensor<E>(shape: s) { make(values(k + 1)($0)) } }
            let expected = try naiveEinsum(spec, ops)
            for strategy in [PathStrategy.leftToRight, .greedy, .optimal, .auto] {
                let got = try engineEinsum(spec, ops, strategy: strategy, dtype: dtype)
                XCTAssertEqual(got.shape, expected.shape, "\(spec)", file: file, line: line)
                XCTAssertEqual(got.storage, expected.storage, "\(spec) \(strategy) \(dtype)", file: file, line: line)
            }
        }
    }

    func testAllDTypesAgainstNaiveReference() throws {
        try check(Float.self, dtype: .float32) { Float($0) }
        try check(Double.self, dtype: .float64) { Double($0) }
        try check(Float16.self, dtype: .float16) { Float16($0) }
        try check(Int32.self, dtype: .int32) { Int32($0) }
        try check(Int64.self, dtype: .int64) { Int64($0) }
        try check(Int8.self, dtype: .int8) { Int8($0 * 20) }   // products wrap as in NumPy
        try check(UInt16.self, dtype: .uint16) { UInt16(truncatingIfNeeded: $0) }
        try check(Bool.self, dtype: .bool) { $0 > 0 }
        try check(Complex<Float>.self, dtype: .complex64) { Complex(Float($0), Float($0 % 2)) }
        try check(Complex<Double>.self, dtype: .complex128) { Complex(Double($0), Double(-$0 % 3)) }
    }

    func testStridedViewsAreReadInPlace() throws {
        let base = TestTensor<Double>(shape: [6, 5, 4]) { Double(values(3)($0)) }
        let other = TestTensor<Double>(shape: [4, 6]) { Double(values(4)($0)) }
        let views = [base.transposed([2, 0, 1]), base.reversed(axis: 1).transposed([2, 0, 1]),
                     base.reversed(axis: 0).reversed(axis: 2).transposed([2, 0, 1])]
        for v in views {
            // The last: a strided side broadcast over the other's 24 rows, copied contiguous.
            for spec in ["kij,kl->lij", "kij,li->kj", "kij->jik", "kij->j", "kij,lm->lmkij"] {
                let ops = spec.contains(",") ? [v, other] : [v]
                let expected = try naiveEinsum(spec, ops)
                let got = try engineEinsum(spec, ops, dtype: .float64)
                XCTAssertEqual(got.storage, expected.storage, spec)
            }
        }
    }

    func testLargeGemmMatchesReference() throws {
        // Big enough to take the packed GEMM path with edge tiles in M, N and K (on the ISA
        // selected; KernelTests runs every kernel in the registry).
        let a = TestTensor<Float>(shape: [67, 301]) { Float(values(5)($0)) }
        let b = TestTensor<Float>(shape: [301, 45]) { Float(values(6)($0)) }
        let expected = try naiveEinsum("ij,jk->ik", [a, b])
        XCTAssertEqual(try engineEinsum("ij,jk->ik", [a, b], dtype: .float32).storage, expected.storage)
    }

    func testAlphaScalesTheResult() throws {
        // The same operand, 40 columns: the symmetric product, whose first B panels (32 or
        // 16 columns) are packed by the tiles that first read them, A read in place there.
        let a = TestTensor<Double>(shape: [2, 3, 4, 40]) { Double(values(7)($0)) }
        let expected = try naiveEinsum("ahwm,ahwn->amn", [a, a])
        let got = try engineEinsum("ahwm,ahwn->amn", [a, a], alpha: 1.0 / 12, dtype: .float64)
        for (g, e) in zip(got.storage, expected.storage) { XCTAssertEqual(g, e / 12, accuracy: 1e-12) }
    }

    /// Long reductions sum pairwise: the error against an exact sum stays within a few
    /// units in the last place, where a running sum's grows with the length.
    func testLongReductionsArePairwise() throws {
        let n = 1 << 22
        let x = TestTensor<Float>(shape: [n]) { Float(1 + Double(($0 &* 2654435761) & 1023) / 1e6) }
        let exact = x.storage.reduce(0.0) { $0 + Double($1) }  // float64: exact to 1e-16 relative here
        var running: Float = 0
        for v in x.storage { running += v }
        for (spec, ops) in [("i->", [x]), ("i,i->", [x, TestTensor<Float>(shape: [n]) { _ in 1 }])] {
            for isStrided in [false, true] {
                var ops = ops
                if isStrided {  // every element twice apart: the strided loop, not the vector one
                    ops = ops.map { $0.spaced(by: 2) }
                }
                let got = try engineEinsum(spec, ops, dtype: .float32).storage[0]
                XCTAssertLessThan(abs(Double(got) - exact), 16 * Double(got.ulp), "\(spec) strided \(isStrided)")
            }
        }
        XCTAssertGreaterThan(abs(Double(running) - exact), 100 * Double(running.ulp))  // what a running sum loses
        // A broadcast operand (stride 0): n copies summed as n times the value.
        let one = TestTensor<Double>(shape: [1]) { _ in 1 + 8196 * Double.ulpOfOne }
        let sum = try engineEinsum("i->", [one.broadcast(to: [1_000_000])], dtype: .float64).storage[0]
        XCTAssertEqual(sum, (1 + 8196 * Double.ulpOfOne) * 1_000_000)
    }

    /// Sums across a row of outputs add each lane's blocks as the scalar cascade adds one
    /// sum's: the same pairs, so bit for bit the same result, for any count of blocks.
    func testLaneCascadeAddsEachLaneAsTheScalarCascade() {
        let lanes = 5
        for blocks in [1, 2, 3, 7, 8, 13] {
            let sums = (0..<blocks * lanes).map { Float(1 + Double(($0 &* 2654435761) & 1023) / 1e3) }
            let depth = LaneCascade<Float>.depth(blocks: blocks)
            var levels = [Float](repeating: 0, count: depth * lanes), t = [Float](repeating: 0, count: lanes)
            levels.withUnsafeMutableBufferPointer { lv in
                t.withUnsafeMutableBufferPointer { t in
                    var cascade = LaneCascade(levels: lv.baseAddress!, lanes: lanes)
                    for b in 0..<blocks {
                        for w in 0..<lanes { t[w] = sums[b * lanes + w] }
                        if b < blocks - 1 { cascade.push(t.baseAddress!) } else { cascade.finish(t.baseAddress!) }
                    }
                }
            }
            var scalarLevels = [Float](repeating: 0, count: Cascade<Float>.depth)
            for w in 0..<lanes {
                let want = scalarLevels.withUnsafeMutableBufferPointer { lv -> Float in
                    var cascade = Cascade<Float>(levels: lv.baseAddress!)
                    for b in 0..<blocks - 1 { cascade.push(sums[b * lanes + w]) }
                    return cascade.finish(sums[(blocks - 1) * lanes + w])
                }
                XCTAssertEqual(t[w].bitPattern, want.bitPattern, "\(blocks) blocks, lane \(w)")
            }
        }
    }

    /// Operands of another dtype are read converted (int32 and float32 into a float64
    /// computation, one of them strided and one broadcast), and a cast that is not safe
    /// (float64 into int64) is refused.
    func testMixedOperandsAreReadConverted() throws {
        let plan = try Plan(subscripts: "ij,jk->ik", shapes: [[5, 7], [7, 6]], strategy: .greedy)
        var a = (0..<70).map { Int32(values(1)($0)) }   // 5x7, read with stride 2 along j
        var b = (0..<7).map { Float(values(2)($0)) }    // one row of 7, broadcast over k
        var c = [Double](repeating: .nan, count: 30)
        var expected = [Double](repeating: 0, count: 30)
        for i in 0..<5 { for k in 0..<6 { for j in 0..<7 { expected[i * 6 + k] += Double(a[i * 14 + 2 * j]) * Double(b[j]) } } }
        let types: [Int32] = [DType.int32.code, DType.float32.code]
        try a.withUnsafeMutableBytes { pa in
            try b.withUnsafeMutableBytes { pb in
                try c.withUnsafeMutableBytes { pc in
                    let data: [UnsafeRawPointer?] = [UnsafeRawPointer(pa.baseAddress!), UnsafeRawPointer(pb.baseAddress!)]
                    let strides: [Int64] = [14, 2, 1, 0], outStrides: [Int64] = [6, 1]
                    try plan.execute(dtype: .float64, operandTypes: types, data: data, strides: strides,
                                     output: pc.baseAddress!, outputStrides: outStrides)
                    let bad: [Int32] = [DType.int64.code, DType.float64.code]
                    XCTAssertThrowsError(try plan.execute(dtype: .int64, operandTypes: bad, data: data, strides: strides,
                                                          output: pc.baseAddress!, outputStrides: outStrides))
                }
            }
        }
        XCTAssertEqual(c, expected)
        XCTAssertTrue(DType.float64.reads(.int64) && DType.complex64.reads(.float16) && !DType.float32.reads(.int32))
        XCTAssertFalse(DType.float64.reads(.uint64) || DType.int64.reads(.float32) || DType.float32.reads(.bfloat16))
    }

    func testBadExecutionArgumentsThrow() throws {
        let plan = try Plan(subscripts: "ij,jk", shapes: [[2, 3], [3, 4]], strategy: .greedy)
        var x = [Float](repeating: 0, count: 64)
        try x.withUnsafeMutableBytes { p in
            let arg = TensorArg(data: p.baseAddress!, strides: [1, 1])
            XCTAssertThrowsError(try plan.execute(dtype: .float32, operands: [arg], output: arg))
            XCTAssertThrowsError(try plan.execute(dtype: .float32, operands: [arg, arg], output: TensorArg(data: p.baseAddress!, strides: [1])))
        }
        XCTAssertThrowsError(try Plan(subscripts: "ij", shapes: [], strategy: .greedy))
    }
}
