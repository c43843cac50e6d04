import SwiftgramKernels
import XCTest
@testable import SwiftgramCore

/// Every micro-kernel this CPU can run, against a scalar computation of the same tile.
final class KernelTests: XCTestCase {
    /// The registry's ISAs this CPU runs (the engine's own list: a new ISA is tested here
    /// as soon as it is registered).
    var runnable: [ISA] { ISA.supported }

    /// The full kernel, or its narrow form (at most nr / 2 columns, `b` rows still nr apart),
    /// or the full one packing B as it reads it (`b` rows further apart, as in an operand;
    /// every row copied to the panel whatever the tile's own width).
    func checkKernel<T: BinaryFloatingPoint>(_ k: Microkernel<T>, name: String, narrow: Bool = false,
                                             packing: Bool = false) {
        let kc = 37
        let bStep = packing ? k.nr + 3 : k.nr
        let a = (0..<kc * k.mr).map { T(($0 * 7) % 11) - 5 }
        let b = (0..<kc * bStep).map { T(($0 * 5) % 13) - 6 }
        let width = narrow ? k.nr / 2 : k.nr
        guard let run = narrow ? k.narrow : k.run else { return XCTFail("\(name) has no narrow kernel") }
        for (mr, nr, cs) in [(k.mr, width, 1), (k.mr - 1, max(1, width - 3), 1), (2, width, 3)] {
            for accumulate in [false, true] {
                let ldc = k.nr * cs + 5
                var c = [T](repeating: 1, count: ldc * k.mr)
                var panel = [T](repeating: -1, count: kc * k.nr + 1)
                let rowOff = (0..<k.mr).map { $0 * ldc }
                c.withUnsafeMutableBufferPointer { cp in
                    panel.withUnsafeMutableBufferPointer { pp in
                        run(Tile(kc: kc, a: a, aStep: k.mr, b: b, bStep: bStep, c: cp.baseAddress!, rowOff: rowOff,
                                 cs: cs, mr: mr, nr: nr, alpha: 2, accumulate: accumulate,
                                 bCopy: packing ? pp.baseAddress! : nil))
                    }
                }
                let what = "\(name) narrow=\(narrow) packing=\(packing) mr=\(mr) nr=\(nr) cs=\(cs) acc=\(accumulate)"
                for i in 0..<k.mr {
                    for j in 0..<k.nr {
                        var want: T = 1
                        if i < mr && j < nr {
                            var s: T = 0
                            for p in 0..<kc { s += a[p * k.mr + i] * b[p * bStep + j] }
                            want = 2 * s + (accumulate ? 1 : 0)
                        }
                        XCTAssertEqual(c[i * ldc + j * cs], want, "\(what) (\(i),\(j))")
                    }
                }
                let copied = packing ? (0..<kc * k.nr).map { b[$0 / k.nr * bStep + $0 % k.nr] } : []
                XCTAssertEqual(Array(panel[..<copied.count]), copied, "\(what): packed panel")
                XCTAssertTrue(panel[copied.count...].allSatisfy { $0 == -1 }, "\(what): wrote past the panel")
            }
        }
    }

    /// The block transposition packing uses: a lanes x lanes block read with a row stride,
    /// its columns written where the offsets say (scattered, as across panels).
    func checkTranspose<T: BinaryFloatingPoint>(_ w: Int, _ run: TransposeFunction<T>, name: String) {
        let stride = w + 3
        let src = (0..<w * stride).map { T($0) }
        let offsets = (0..<w).map { $0 * (w + 5) + 1 }
        var dst = [T](repeating: -1, count: w * (w + 5) + 1)
        dst.withUnsafeMutableBufferPointer { run(src, stride, $0.baseAddress!, offsets) }
        for j in 0..<w {
            for i in 0..<w {
                XCTAssertEqual(dst[offsets[j] + i], src[i * stride + j], "\(name) column \(j) row \(i)")
            }
        }
        XCTAssertEqual(dst.filter { $0 != -1 }.count, w * w, "\(name) wrote outside its columns")
    }

    func testEveryRunnableTransposition() {
        for isa in runnable {
            XCTAssertFalse(isa.float32.transposes.isEmpty || isa.float64.transposes.isEmpty, isa.name)
            for (w, run) in isa.float32.transposes { checkTranspose(w, run, name: "\(isa.name) float32 \(w) lanes") }
            for (w, run) in isa.float64.transposes { checkTranspose(w, run, name: "\(isa.name) float64 \(w) lanes") }
        }
    }

    func testEveryRunnableKernel() {
        XCTAssertTrue(runnable.contains { $0.name == ISA.selected.name })
        for isa in runnable {
            for (narrow, packing) in [(false, false), (true, false), (false, true)] {
                checkKernel(isa.float32, name: "\(isa.name) float32", narrow: narrow, packing: packing)
                checkKernel(isa.float64, name: "\(isa.name) float64", narrow: narrow, packing: packing)
            }
        }
        // The scalar kernel of the types without a SIMD one (complex, integers, bool).
        for packing in [false, true] {
            checkKernel(scalarMicrokernel() as Microkernel<Double>, name: "scalar", packing: packing)
        }
    }

    /// A sweep against adding its four terms one by one in order (rounded products, no
    /// fused multiply-add): equal bit for bit, for every length's vector body and tail,
    /// with each kind of factor. Values of mixed magnitudes make the order matter.
    func checkSweep<T: BinaryFloatingPoint>(_ sweep: SweepFunction<T>, name: String) {
        for n in [0, 1, 3, 7, 16, 17, 24, 33, 40, 47, 100] {
            let rows: [[T]] = (0..<5).map { (r: Int) -> [T] in
                let base = T(r) * T(1000.3)
                return (0..<n).map { (w: Int) -> T in T((w * 7 + r * 3) % 19) * T(0x1p-9) + base }
            }
            let s: [T] = [T(1) / 3, -T(7) / 11, T(2) / 9, 0x1p-20]
            for kind in ["none", "scalars", "row"] {
                var t = (0..<n).map { T($0 % 5) / 7 - 1 }
                var want = t
                for w in 0..<n {
                    for r in 0..<4 {
                        let f: T = kind == "none" ? 1 : kind == "scalars" ? s[r] : rows[4][w] / 1024
                        want[w] = want[w] + (kind == "none" ? rows[r][w] : rows[r][w] * f)
                    }
                }
                let shared = rows[4].map { $0 / 1024 }
                rows[0].withUnsafeBufferPointer { r0 in rows[1].withUnsafeBufferPointer { r1 in
                    rows[2].withUnsafeBufferPointer { r2 in rows[3].withUnsafeBufferPointer { r3 in
                        shared.withUnsafeBufferPointer { f in
                            let factor: SweepFactor<T> = kind == "none" ? .none : kind == "scalars" ? .scalars(s[0], s[1], s[2], s[3])
                                : .row(f.baseAddress!)
                            t.withUnsafeMutableBufferPointer { tp in
                                sweep(n, tp.baseAddress!, (r0.baseAddress!, r1.baseAddress!, r2.baseAddress!, r3.baseAddress!), factor)
                            }
                        }
                    } }
                } }
                XCTAssertEqual(t, want, "\(name) n \(n) factor \(kind)")
            }
        }
    }

    func testEveryRunnableSweep() {
        for isa in runnable {
            checkSweep(isa.sweep32, name: "\(isa.name) float32")
            checkSweep(isa.sweep64, name: "\(isa.name) float64")
        }
    }
}
