import XCTest
@testable import SwiftgramCore

/// Cache blocking as a function of the caches: each block fits the level it is meant for,
/// on the detected machine and on made-up ones.
final class BlockingTests: XCTestCase {
    let machines = [
        Caches(l1d: 32 << 10, l2: 1 << 20, l3: 32 << 20, l3Sharing: 2, source: "test"),
        Caches(l1d: 48 << 10, l2: 2 << 20, l3: 32 << 20, l3Sharing: 16, source: "test"),
        Caches(l1d: 32 << 10, l2: 256 << 10, l3: 8 << 20, l3Sharing: 4, source: "test"),
        Caches(l1d: 1 << 10, l2: 4 << 10, l3: 4 << 10, l3Sharing: 1, source: "test"),  // absurdly small
        .machine,
    ]

    func check<T>(_: T.Type, mr: Int, nr: Int, on c: Caches, file: StaticString = #filePath, line: UInt = #line) {
        let size = MemoryLayout<T>.stride
        for (n, k) in [(1 << 20, 1 << 20), (nr, 1 << 20), (4096, 64), (1, 1)] {
            let b = Blocking(T.self, mr: mr, nr: nr, n: n, k: k, caches: c)
            let depth = min(b.kc, k)
            XCTAssertGreaterThanOrEqual(b.kc, 64, file: file, line: line)
            XCTAssertEqual(b.mc % mr, 0, file: file, line: line)
            XCTAssertEqual(b.nc % nr, 0, file: file, line: line)
            XCTAssertGreaterThanOrEqual(b.mc, mr, file: file, line: line)
            XCTAssertGreaterThanOrEqual(b.nc, nr, file: file, line: line)
            if c.l1d >= 64 * nr * size {  // caches that can hold the smallest blocks at all
                let short = b.kc == Blocking(T.self, mr: mr, nr: nr, n: 1 << 20, k: k, caches: c).kc
                XCTAssertLessThanOrEqual((short ? b.kc : b.kc / 2) * nr * size, c.l1d, "B micro-panel in L1d", file: file, line: line)
                XCTAssertLessThanOrEqual(b.mc * depth * size, max(c.l2 / 2, mr * depth * size), "A block in half of L2", file: file, line: line)
                XCTAssertLessThanOrEqual(b.nc * depth * size, max(2 * c.l2, nr * depth * size), "B block", file: file, line: line)
            }
        }
    }

    func testBlocksFitTheirCacheLevels() {
        for c in machines {
            check(Float.self, mr: 8, nr: 32, on: c)
            check(Double.self, mr: 8, nr: 16, on: c)
            check(Float.self, mr: 6, nr: 16, on: c)
        }
    }

    func testBlockingFollowsTheCaches() {
        let small = machines[0], large = machines[1]
        let a = Blocking(Float.self, mr: 8, nr: 32, n: 1 << 20, k: 1 << 20, caches: small)
        let b = Blocking(Float.self, mr: 8, nr: 32, n: 1 << 20, k: 1 << 20, caches: large)
        XCTAssertEqual(a.kc, 256)                      // 32 KiB / (32 columns x 4 bytes)
        XCTAssertEqual(a.mc, 512)                      // 512 KiB / (256 x 4 bytes)
        XCTAssertEqual(a.nc, 2048)                     // 2 MiB / (256 x 4 bytes)
        XCTAssertEqual(b.kc, 384)
        XCTAssertGreaterThan(b.mc * b.kc, a.mc * a.kc) // twice the L2: twice the A block
    }

    func testANarrowProductTakesTwiceTheKBlock() {
        let c = machines[0]
        let wide = Blocking(Float.self, mr: 8, nr: 32, n: 1 << 20, k: 1 << 20, caches: c)
        let narrow = Blocking(Float.self, mr: 8, nr: 32, n: 256, k: 1 << 20, caches: c)
        XCTAssertEqual(narrow.kc, 2 * wide.kc)
    }

    func testDetectedCachesArePlausible() {
        let c = Caches.machine
        XCTAssertGreaterThanOrEqual(c.l1d, 4 << 10)
        XCTAssertGreaterThanOrEqual(c.l2, c.l1d)
        XCTAssertGreaterThanOrEqual(c.l3Sharing, 1)
        XCTAssertFalse(c.source.isEmpty)
    }
}
