import XCTest
@testable import SwiftgramCore

/// The einsum_path report, line for line as numpy.einsum_path prints it.
final class ReportTests: XCTestCase {
    func testReportIsNumPysText() throws {
        // numpy.einsum_path('ij,jk,kl->il', ones((2,3)), ones((3,4)), ones((4,5)),
        // optimize='greedy')[1], NumPy 2.4.
        let numpy = """
              Complete contraction:  ij,jk,kl->il
                     Naive scaling:  4
                 Optimized scaling:  3
                  Naive FLOP count:  3.600e+02
              Optimized FLOP count:  1.810e+02
               Theoretical speedup:  1.989
              Largest intermediate:  1.500e+01 elements
            --------------------------------------------------------------------------
            scaling                  current                                remaining
            --------------------------------------------------------------------------
               3                   kl,jk->jl                                ij,jl->il
               3                   jl,ij->il                                   il->il
            """
        let plan = try Plan(subscripts: "ij,jk,kl->il", shapes: [[2, 3], [3, 4], [4, 5]], strategy: .greedy)
        XCTAssertEqual(plan.report.split(separator: "\n").map { $0.trimmingTrailingSpaces },
                       numpy.split(separator: "\n").map { $0.trimmingTrailingSpaces })
    }

    func testFormattingOfCounts() {
        XCTAssertEqual(scientific(0, digits: 3), "0.000e+00")
        XCTAssertEqual(scientific(181, digits: 3), "1.810e+02")
        XCTAssertEqual(scientific(123456789, digits: 3), "1.235e+08")
        XCTAssertEqual(scientific(40065, digits: 3), "4.006e+04")  // half to even, as Python's '%.3e'
        XCTAssertEqual(scientific(40075, digits: 3), "4.008e+04")
    }
}

private extension Substring {
    var trimmingTrailingSpaces: Substring {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
