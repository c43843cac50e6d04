import XCTest
@testable import SwiftgramCore

final class PathTests: XCTestCase {
    func testStrategiesAgreeWithNumPyFormat() throws {
        let ops = [LabelSet([0, 1]), LabelSet([1, 2]), LabelSet([2, 3])]
        let out = LabelSet([0, 3])
        let sizes = [2, 3, 4, 5]
        XCTAssertEqual(try findPath(inputs: ops, output: out, sizes: sizes, strategy: .leftToRight, memoryLimit: nil), [[0, 1, 2]])
        XCTAssertEqual(try findPath(inputs: ops, output: out, sizes: sizes, strategy: .greedy, memoryLimit: nil), [[1, 2], [0, 1]])
        // By FLOPs, (ij,jk) first is cheaper: 24*2 + 40*2 = 128 against 60*2 + 30*2 = 180.
        XCTAssertEqual(try findPath(inputs: ops, output: out, sizes: sizes, strategy: .optimal, memoryLimit: nil), [[0, 1], [0, 1]])
        XCTAssertEqual(try findPath(inputs: ops, output: out, sizes: sizes, strategy: .auto, memoryLimit: nil), [[0, 1], [0, 1]])
        XCTAssertThrowsError(try findPath(inputs: ops, output: out, sizes: sizes, strategy: .explicit([[0, 5]]), memoryLimit: nil))
        // A path that leaves operands over is NumPy's RuntimeError.
        XCTAssertThrowsError(try findPath(inputs: ops, output: out, sizes: sizes, strategy: .explicit([[0, 1]]), memoryLimit: nil)) {
            XCTAssertEqual(($0 as? EinsumError)?.kind, .runtime)
        }
    }

    /// NumPy's own expectations for optimize='optimal' (numpy/_core/tests/test_einsum.py,
    /// TestEinsumPath), where its tie-breaking picks one of several paths of equal cost.
    func testOptimalIsNumPysSearch() throws {
        let sizes = Dictionary(uniqueKeysWithValues: zip("abcdefghij", [2, 3, 4, 5, 4, 3, 2, 6, 5, 4]))
        func path(_ spec: String, _ output: String? = nil) throws -> [[Int]] {
            let shapes = spec.split(separator: ",").map { $0.map { sizes[$0]! } }
            return try Plan(subscripts: spec + (output.map { "->" + $0 } ?? ""), shapes: shapes, strategy: .optimal).path
        }
        XCTAssertEqual(try path("acdf,jbje,gihb,hfac,gfac,gifabc,hfac"), [[3, 6], [3, 4], [2, 4], [2, 3], [0, 2], [0, 1]])
        XCTAssertEqual(try path("chd,bde,agbc,hiad,bdi,cgh,agdb"), [[0, 5], [1, 4], [3, 4], [1, 3], [1, 2], [0, 1]])
        XCTAssertEqual(try path("dd,fb,be,cdb", "cef"), [[0, 3], [0, 1], [0, 1]])
        XCTAssertEqual(try path("dcc,fce,ea,dbf", "ab"), [[1, 2], [0, 2], [0, 1]])
    }

    /// NumPy's rules where the search cannot go pairwise: nothing summed is one step; under a
    /// memory limit no pair meets, the pairs that fit, then the rest at once (numpy 2.4:
    /// 'ab,bc,cd,f,f->ad', all sizes 10, limit 10 -> [(3, 4), (0, 1, 2, 3)]).
    func testNumPyFallbacks() throws {
        let outer = [LabelSet([0]), LabelSet([1]), LabelSet([2])]
        for strategy in [PathStrategy.greedy, .optimal, .auto] {
            XCTAssertEqual(try findPath(inputs: outer, output: LabelSet([0, 1, 2]), sizes: [2, 3, 4],
                                        strategy: strategy, memoryLimit: nil), [[0, 1, 2]])
            let ops = [LabelSet([0, 1]), LabelSet([1, 2]), LabelSet([2, 3]), LabelSet([5]), LabelSet([5])]
            XCTAssertEqual(try findPath(inputs: ops, output: LabelSet([0, 3]), sizes: [Int](repeating: 10, count: 6),
                                        strategy: strategy, memoryLimit: 10), [[3, 4], [0, 1, 2, 3]])
        }
    }

    func testOptimalNeverCostsMoreThanGreedy() throws {
        // A chain where greedy's local choice is not the global optimum in general.
        let plan1 = try Plan(subscripts: "ab,bc,cd,de,ea->", shapes: [[7, 30], [30, 2], [2, 40], [40, 3], [3, 7]], strategy: .optimal)
        let plan2 = try Plan(subscripts: "ab,bc,cd,de,ea->", shapes: [[7, 30], [30, 2], [2, 40], [40, 3], [3, 7]], strategy: .greedy)
        func cost(_ p: Plan) -> Double {
            let r = p.report
            let line = r.split(separator: "\n").first { $0.contains("Optimized FLOP count") }!
            return Double(line.split(separator: " ").last!.replacingOccurrences(of: "e+", with: "e"))!
        }
        XCTAssertLessThanOrEqual(cost(plan1), cost(plan2))
    }
}
