import XCTest
@testable import SwiftgramCore

/// The core's types against the C ABI's codes (sg_codes.h).
final class CodesTests: XCTestCase {
    func testEveryDTypeHasItsOwnCodeAndComesBackFromIt() {
        let codes = DType.allCases.map(\.code)
        XCTAssertEqual(Set(codes).count, DType.allCases.count)
        for t in DType.allCases { XCTAssertEqual(DType(code: t.code), t) }
        XCTAssertNil(DType(code: codes.max()! + 1))
        XCTAssertEqual(DType.float32.code, 10)  // the ABI's published value
    }

    func testStrategiesAndErrorKinds() {
        let named: [PathStrategy] = [.leftToRight, .greedy, .optimal, .auto]
        let found = (Int32(0)..<Int32(8)).compactMap { PathStrategy(code: $0) }
        XCTAssertEqual(found, named)
        XCTAssertNil(PathStrategy(code: PathStrategy.explicitCode))  // comes with its path
        let kinds: [EinsumError.Kind] = [.value, .type, .memory, .runtime]
        XCTAssertEqual(Set(kinds.map(\.code)).count, 4)
        XCTAssertFalse(kinds.contains { $0.code == 0 })  // 0 is success
    }
}
