import XCTest
@testable import SwiftgramCore

/// The grid schedule's blocks and its work stealing (GEMM/Stealing.swift).
final class StealingTests: XCTestCase {
    /// Every element of C, and every K step of it, belongs to exactly one (block, row
    /// block, phase).
    func testGridBlocksCoverTheProductOnce() {
        for (M, N, K, grid) in [(1024, 1024, 1024, (1, 2)), (1000, 100, 700, (2, 1)), (37, 300, 50, (2, 2)),
                                (5, 5, 5, (3, 2)), (300, 1000, 900, (1, 3))] {
            var count = [Int](repeating: 0, count: M * N)
            var steps = [Int](repeating: 0, count: M * N)
            for i in 0..<(grid.0 * grid.1) {
                let b = gridBlock(i, grid: grid, M: M, N: N, K: K, mr: 8, nr: 32, mc: 256, nc: 160, kc: 300)
                for r in 0..<b.rows {
                    let (ic, mc) = b.row(r)
                    XCTAssertGreaterThan(mc, 0)
                    for p in 0..<b.phases {
                        let (jc, nc, pc, kc) = b.phase(p)
                        XCTAssertGreaterThan(nc, 0)
                        XCTAssertGreaterThan(kc, 0)
                        for m in ic..<ic + mc { for n in jc..<jc + nc {
                            steps[m * N + n] += kc
                            if pc == 0 { count[m * N + n] += 1 }
                        } }
                    }
                }
            }
            XCTAssertEqual(count, [Int](repeating: 1, count: M * N), "\(M)x\(N) on \(grid)")
            XCTAssertEqual(steps, [Int](repeating: K, count: M * N), "\(M)x\(N)x\(K) on \(grid)")
        }
    }

    /// A block's rows are cut fine enough for a thief to take its last ones.
    func testGridBlocksHaveRowBlocksToSpare() {
        let b = gridBlock(0, grid: (1, 2), M: 1024, N: 1024, K: 1024, mr: 8, nr: 32, mc: 256, nc: 2048, kc: 512)
        XCTAssertEqual(b.rows, 8)
        XCTAssertEqual(b.phases, 2)
    }

    /// The owner claims its row blocks in order, phase after phase; a thief takes from the
    /// back what the owner has not started, or has finished the current phase of, never
    /// more than it leaves the owner, and the owner skips what was taken.
    func testOwnerAndThiefShareABlock() {
        let rows = 4, phases = 2
        let words = UnsafeMutablePointer<Int>.allocate(capacity: BlockShare.words(rows: rows))
        defer { words.deallocate() }
        let share = BlockShare(words: words, rows: rows)
        share.reset()
        // Before the owner starts: the last row block, all its phases (2 of 8 left).
        XCTAssertTrue(share.take(phases: phases)! == (row: 3, start: 0))
        XCTAssertEqual(share.claim(), 0)
        share.finish(0, phase: 0)
        XCTAssertEqual(share.claim(), 1)  // row 1 in progress
        XCTAssertTrue(share.take(phases: phases)! == (row: 2, start: 0))
        XCTAssertNil(share.claim())  // rows 2 and 3 are the thief's
        share.finish(1, phase: 0)
        share.advance()
        XCTAssertEqual(share.claim(), 0)  // phase 1, row 0 in progress: row 1 left
        // Row 1, not started in phase 1, gives the thief 1 of the 1 left: taken, from phase 1.
        XCTAssertTrue(share.take(phases: phases)! == (row: 1, start: 1))
        XCTAssertNil(share.claim())
        XCTAssertNil(share.take(phases: phases))  // row 0 is in progress: nothing left
        share.finish(0, phase: 1)
        share.advance()
        XCTAssertNil(share.take(phases: phases))
    }

    /// The only row block in progress is not taken, and a block with one row block is
    /// left to its owner until its last phase.
    func testAThiefTakesNoMoreThanItLeaves() {
        let words = UnsafeMutablePointer<Int>.allocate(capacity: BlockShare.words(rows: 1))
        defer { words.deallocate() }
        let share = BlockShare(words: words, rows: 1)
        share.reset()
        XCTAssertNil(share.take(phases: 4))  // 4 phases for the thief, none for the owner
        XCTAssertEqual(share.claim(), 0)
        share.finish(0, phase: 0)
        XCTAssertNil(share.claim())
        share.advance()
        XCTAssertNil(share.take(phases: 4))  // 3 of 3 left
        for p in 1...2 {
            XCTAssertEqual(share.claim(), 0)
            share.finish(0, phase: p)
            XCTAssertNil(share.claim())
            share.advance()
        }
        XCTAssertTrue(share.take(phases: 4)! == (row: 0, start: 3))  // the last phase of 1
    }

    /// With more threads than CPUs, workers start late and blocks are taken: the result
    /// is exact every time, the same for every thread count (each element sums its K
    /// blocks in order, whoever computes them).
    func testStolenBlocksGiveTheExactProduct() throws {
        // Blocks of 72 rows: 9 row blocks of 8 each.
        let a = TestTensor<Float>(shape: [144, 100]) { Float(values(21)($0)) }
        let b = TestTensor<Float>(shape: [100, 64]) { Float(values(22)($0)) }
        let expected = try naiveEinsum("ij,jk->ik", [a, b])
        let before = Threads.count
        defer { Threads.count = before }
        for threads in [2, 3, 4, 8] {
            Threads.count = threads
            for _ in 0..<3 {
                XCTAssertEqual(try engineEinsum("ij,jk->ik", [a, b], dtype: .float32).storage, expected.storage,
                               "\(threads) threads")
            }
        }
    }
}
