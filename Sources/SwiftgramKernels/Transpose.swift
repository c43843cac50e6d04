// Packing's square transposition, one vector width on a side, written once, generic over
// the SIMD vector type like the micro-kernel (each ISA module instantiates it).
//
// A panel of B whose columns lie across the operand's contiguous dimension (B of
// 'acbd,dcfe->abef': a panel's columns are f, 40 floats apart; e is contiguous) would be
// gathered an element at a time; instead w x w blocks are loaded as w vectors along the
// contiguous dimension and stored, transposed, as w vectors along the panel.

/// The even lanes of the pair (a, b) and the odd ones, a's first. Written lane by lane;
/// with the lane count a constant the compiler turns each into one two-source permute
/// (vpermt2ps / vpermt2pd on AVX-512).
@inlinable @inline(__always)
func unzip<V: SIMD>(_ a: V, _ b: V) -> (even: V, odd: V) {
    let half = V.scalarCount / 2
    var (even, odd) = (V(), V())
    for i in 0..<half {
        (even[i], even[half + i]) = (a[2 * i], b[2 * i])
        (odd[i], odd[half + i]) = (a[2 * i + 1], b[2 * i + 1])
    }
    return (even, odd)
}

/// Copies the w x w block whose row i starts at src + i * srcStride (w contiguous
/// elements) so that its column j lands, contiguous, at dst + dstOffsets[j]: w = the
/// vector width.
public typealias TransposeFunction<T> = (_ src: UnsafePointer<T>, _ srcStride: Int,
                                         _ dst: UnsafeMutablePointer<T>, _ dstOffsets: UnsafePointer<Int>) -> Void

/// `TransposeFunction` in registers: log2(w) rounds, each unzipping pairs of neighbouring
/// rows (after the last, row j holds column j). The two results of a pair overwrite it in
/// place (one w-vector buffer: on the stack at no cost, where two would not fit 1 KiB), so
/// after r rounds logical row j sits at slot rotl^r(j), its log2(w) bits rotated; after
/// log2(w) rounds, back at j. Every slot is a constant once the loops unroll, so the
/// buffer lives in registers.
@inlinable @inline(__always)
public func simdTranspose<V: SIMD>(_: V.Type, _ src: UnsafePointer<V.Scalar>, _ srcStride: Int,
                                   _ dst: UnsafeMutablePointer<V.Scalar>, _ dstOffsets: UnsafePointer<Int>) {
    let w = V.scalarCount, bits = w.trailingZeroBitCount
    // Four rounds are spelled out below: at most 16 lanes (the debug-built XCTest checks
    // every instantiation; never a trap in a release build reached from Python).
    assert(bits <= 4, "simdTranspose spells out 4 rounds: at most 16 lanes")
    @inline(__always) func slot(_ j: Int, _ r: Int) -> Int { r == 0 ? j : (j << r | j >> (bits - r)) & (w - 1) }
    withUnsafeTemporaryAllocation(of: V.self, capacity: w) { buf in
        let rows = buf.baseAddress!
        for i in 0..<w { rows[i] = UnsafeRawPointer(src + i &* srcStride).loadUnaligned(as: V.self) }
        @inline(__always) func round(_ r: Int) {
            if r >= bits { return }
            for i in 0..<w / 2 {
                let (x, y) = (slot(2 * i, r), slot(2 * i + 1, r))
                (rows[x], rows[y]) = unzip(rows[x], rows[y])
            }
        }
        round(0); round(1); round(2); round(3)  // w <= 16: spelled out, so each unrolls
        for j in 0..<w { UnsafeMutableRawPointer(dst + dstOffsets[j]).storeBytes(of: rows[j], as: V.self) }
    }
}
