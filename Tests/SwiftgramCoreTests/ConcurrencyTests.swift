import Dispatch
import XCTest
@testable import SwiftgramCore

/// One plan executed from many threads at once, while the engine's thread count changes:
/// every result must be right (run under --sanitize=thread, this is the race check).
final class ConcurrencyTests: XCTestCase {
    /// Batched: one product per engine thread.
    func testConcurrentExecutionsAndThreadCountChanges() throws {
        try concurrentExecutions("bij,bjk->bik", shapes: [[3, 40, 70], [3, 70, 50]])
    }

    /// A single product: the engine's threads each take a block of C (see gemmGrid).
    func testConcurrentSingleProducts() throws {
        try concurrentExecutions("ij,jk->ik", shapes: [[70, 300], [300, 90]])
    }

    private func concurrentExecutions(_ subscripts: String, shapes: [[Int]]) throws {
        let a = TestTensor<Float>(shape: shapes[0]) { Float(values(11)($0)) }
        let b = TestTensor<Float>(shape: shapes[1]) { Float(values(12)($0)) }
        let expected = try naiveEinsum(subscripts, [a, b])
        let before = Threads.count
        defer { Threads.count = before }
        let failures = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        failures.initialize(repeating: 0, count: 8)
        defer { failures.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for round in 0..<6 {
                if t == 0 { Threads.count = 1 + round % 3 }
                let got = try? engineEinsum(subscripts, [a, b], dtype: .float32)
                if got?.storage != expected.storage { failures[t] += 1 }
            }
        }
        XCTAssertEqual((0..<8).map { failures[$0] }, [Int](repeating: 0, count: 8))
    }
}
