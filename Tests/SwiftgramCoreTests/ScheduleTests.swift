import XCTest
@testable import SwiftgramCore

/// The GEMM step's threading schedule, as a function of shape and threads alone.
final class ScheduleTests: XCTestCase {
    func schedule(batch: Int = 1, _ M: Int, _ N: Int, _ K: Int, threads: Int = 2, symmetric: Bool = false) -> GemmSchedule {
        gemmSchedule(batch: batch, M: M, N: N, K: K, kc: 256, threads: threads, symmetric: symmetric)
    }

    func testBatchesGoWholeToEachThread() {
        XCTAssertEqual(schedule(batch: 8, 256, 256, 784), GemmSchedule(kind: .batch, workers: 2))
        XCTAssertEqual(schedule(batch: 2, 256, 256, 784, symmetric: true), GemmSchedule(kind: .batch, workers: 2))
        XCTAssertEqual(schedule(batch: 3, 64, 64, 64, threads: 1), GemmSchedule(kind: .batch, workers: 1))
    }

    func testSmallWorkStaysOnTheCallingThread() {
        XCTAssertEqual(schedule(4, 4, 4), GemmSchedule(kind: .batch, workers: 1))
        XCTAssertEqual(schedule(40, 40, 60).workers, 1)      // 96,000 multiply-adds
        XCTAssertEqual(schedule(40, 40, 70).workers, 2)      // 112,000
    }

    func testOneProductIsCutIntoAGridAlongItsWiderSide() {
        // Each worker packs its rows of A and its columns of B: split the side that saves most.
        XCTAssertEqual(schedule(1024, 1024, 1024).kind, .grid(rows: 1, cols: 2))
        XCTAssertEqual(schedule(100, 1000, 512).kind, .grid(rows: 1, cols: 2))
        XCTAssertEqual(schedule(1000, 100, 512).kind, .grid(rows: 2, cols: 1))
        XCTAssertEqual(schedule(1000, 1000, 512, threads: 4).kind, .grid(rows: 2, cols: 2))
        XCTAssertEqual(gemmGrid(workers: 6, M: 300, N: 900).rows * gemmGrid(workers: 6, M: 300, N: 900).cols, 6)
    }

    func testLongSumsOfSmallOutputsSplitK() {
        // One 64x64 Gram over 224x224 pixels.
        XCTAssertEqual(schedule(64, 64, 224 * 224, symmetric: true).kind, .kSplit)
        XCTAssertEqual(schedule(64, 64, 224 * 224).kind, .kSplit)
        // Too short a sum (under 8 K blocks per worker), or too large an output: no split.
        XCTAssertNotEqual(schedule(64, 64, 4000).kind, .kSplit)
        XCTAssertNotEqual(schedule(256, 256, 224 * 224).kind, .kSplit)
    }

    func testASymmetricProductIsShared() {
        XCTAssertEqual(schedule(256, 256, 784, symmetric: true), GemmSchedule(kind: .cooperative, workers: 2))
    }
}
