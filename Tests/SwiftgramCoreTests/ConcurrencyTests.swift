import Dispatch
import XCTest
@testable import SwiftgramCore

/// One plan executed from many threads at once, while the engine's thread count changes:
/// every result must be right (run under --sanitize=thread, this is the race check).
final class ConcurrencyTests: XCTestCase {
    func testConcurrentExecutionsAndThreadCountChanges() throws {
        let a = TestTensor<Float>(shape: [3, 40, 70]) { Float(values(11)($0)) }
        let b = TestTensor<Float>(shape: [3, 70, 50]) { Float(values(12)($0)) }
        let expected = try naiveEinsum("bij,bjk->bik", [a, b])
        let before = Threads.count
        defer { Threads.count = before }
        let failures = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        failures.initialize(repeating: 0, count: 8)
        defer { failures.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for round in 0..<6 {
                if t == 0 { Threads.count = 1 + round % 3 }
                let got = try? engineEinsum("bij,bjk->bik", [a, b], dtype: .float32)
                if got?.storage != expected.storage { failures[t] += 1 }
            }
        }
        XCTAssertEqual((0..<8).map { failures[$0] }, [Int](repeating: 0, count: 8))
    }
}
