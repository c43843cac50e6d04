import XCTest
@testable import SwiftgramCore

final class SubscriptsTests: XCTestCase {
    func label(_ c: Character) -> Int {
        let v = Int(c.asciiValue!)
        return v < 97 ? v - 65 : v - 97 + 26
    }

    func testExplicitAndImplicitOutput() throws {
        let s = try parseSubscripts("ij,jk->ki", ndims: [2, 2])
        XCTAssertEqual(s.inputs, [[label("i"), label("j")], [label("j"), label("k")]])
        XCTAssertEqual(s.output, [label("k"), label("i")])
        // Implicit: labels seen once, in ASCII order (upper case first).
        XCTAssertEqual(try parseSubscripts("ba,Ab", ndims: [2, 2]).output, [label("A"), label("a")])
        XCTAssertEqual(try parseSubscripts("ii", ndims: [2]).output, [])
        XCTAssertEqual(try parseSubscripts(" i j , j k ", ndims: [2, 2]).output, [label("i"), label("k")])
    }

    func testEllipsisIsRightAlignedAndFirstInImplicitOutput() throws {
        let s = try parseSubscripts("...i,i...", ndims: [3, 2])
        XCTAssertEqual(s.ellipsisDims, 2)
        XCTAssertEqual(s.inputs[0], [52, 53, label("i")])
        XCTAssertEqual(s.inputs[1], [label("i"), 53])
        XCTAssertEqual(s.output, [52, 53])
        XCTAssertEqual(try parseSubscripts("i...->...", ndims: [1]).output, [])
        // No '...' in an explicit output: the broadcast dims are summed away.
        XCTAssertEqual(try parseSubscripts("...i->i", ndims: [3]).output, [label("i")])
    }

    func testErrorsNameTheProblem() {
        func message(_ text: String, _ ndims: [Int]) -> String {
            do { _ = try parseSubscripts(text, ndims: ndims); return "" } catch { return error.message }
        }
        XCTAssertTrue(message("i$", [2]).contains("invalid subscript '$'"))
        XCTAssertTrue(message("ij", [1]).contains("too many subscripts"))
        XCTAssertTrue(message("ij", [3]).contains("no '...' ellipsis"))
        XCTAssertTrue(message("ij", [2, 2]).contains("more operands provided"))
        XCTAssertTrue(message("ij,jk", [2]).contains("fewer operands provided"))
        XCTAssertTrue(message("ij->k", [2]).contains("'k' never appears"))
        XCTAssertTrue(message("ij->ii", [2]).contains("more than once"))
        XCTAssertTrue(message("i..", [1]).contains("ellipsis"))
        XCTAssertTrue(message("i->i->i", [1]).contains("->"))
        // Spaces are ignored, except inside '...' and '->' (NumPy's rule).
        XCTAssertEqual(message(" ... i -> ... i ", [2]), "")
        XCTAssertTrue(message(". ..", [2]).contains("not part of an ellipsis"))
        XCTAssertTrue(message(".. .->...", [2]).contains("not part of an ellipsis"))
        XCTAssertTrue(message("i- >i", [1]).contains("'->'"))
    }

    func testSizesBroadcastAndConflicts() throws {
        let s = try parseSubscripts("ij,jk", ndims: [2, 2])
        XCTAssertEqual(try labelSizes(s, shapes: [[2, 1], [3, 4]])[label("j")], 3)
        XCTAssertThrowsError(try labelSizes(s, shapes: [[2, 2], [3, 4]])) { e in
            XCTAssertEqual((e as! EinsumError).message, "einsum: label 'j': operand 1 has size 3, operand 0 has 2")
        }
        let d = try parseSubscripts("ii", ndims: [2])
        XCTAssertThrowsError(try labelSizes(d, shapes: [[2, 3]]))
    }

    /// Static shapes with dimensions known only at run time (-1), as frameworks have them.
    func testSizesWithUnknownDimensions() throws {
        let s = try parseSubscripts("bij,bjk", ndims: [3, 3])
        let sizes = try labelSizes(s, shapes: [[-1, 4, 5], [1, 5, -1]], unknown: true)
        XCTAssertEqual([sizes[label("b")], sizes[label("i")], sizes[label("j")], sizes[label("k")]], [-1, 4, 5, -1])
        XCTAssertEqual(try labelSizes(s, shapes: [[1, 4, 5], [1, 5, 2]], unknown: true)[label("b")], 1)
        XCTAssertEqual(try labelSizes(s, shapes: [[-1, 4, 5], [3, 5, 2]], unknown: true)[label("b")], 3)
        XCTAssertThrowsError(try labelSizes(s, shapes: [[-1, 4, 5], [1, 6, -1]], unknown: true)) { e in
            XCTAssertEqual((e as! EinsumError).message, "einsum: label 'j': operand 1 has size 6, operand 0 has 5")
        }
        // Without `unknown`, -1 is a negative dimension.
        XCTAssertThrowsError(try labelSizes(s, shapes: [[-1, 4, 5], [1, 5, 2]]))
        let d = try parseSubscripts("ii", ndims: [2])
        XCTAssertEqual(try labelSizes(d, shapes: [[-1, 3]], unknown: true)[label("i")], 3)
    }
}
