// float16 / bfloat16 <-> float32 conversions of runs, for packing 16-bit operands and
// storing 16-bit results, and the interleave that packs bfloat16 pairs, written once; each
// x86 ISA module instantiates them, where the loops become vector code (F16C's vcvtph2ps /
// vcvtps2ph for float16). C function pointers: a call captures nothing (no retain).

/// Widens `count` 16-bit values (float16 or bfloat16 bit patterns) at `src` to float32.
public typealias WidenFunction = @convention(c) (_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>,
                                                 _ count: Int) -> Void
/// Rounds `count` float32 values to 16 bits (nearest even; bit patterns at `dst`).
public typealias NarrowFunction = @convention(c) (_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>,
                                                  _ count: Int) -> Void

/// `WidenFunction` as a plain loop: vectorised by the compiler where the module's target
/// has F16C (x86-64-v3 and up); a library call per element elsewhere.
@inlinable @inline(__always)
public func widenHalves(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    for i in 0..<count { dst[i] = Float(Float16(bitPattern: src[i])) }
}

/// `NarrowFunction` as a plain loop, vectorised likewise.
@inlinable @inline(__always)
public func narrowHalves(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ count: Int) {
    for i in 0..<count { dst[i] = Float16(src[i]).bitPattern }
}

/// bfloat16 is float32's upper half: widening is a shift.
@inlinable @inline(__always)
public func widenBFloat16s(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    for i in 0..<count { dst[i] = Float(bitPattern: UInt32(src[i]) << 16) }
}

/// Rounded to nearest even with a carry into the kept half; NaN stays NaN, quieted (as
/// BFloat16.init(acc:) and ml_dtypes round), as selects the compiler vectorises.
@inlinable @inline(__always)
public func narrowBFloat16s(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ count: Int) {
    for i in 0..<count {
        let b = src[i].bitPattern
        let rounded = UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
        let quiet = UInt16(truncatingIfNeeded: b >> 16) | 0x40
        dst[i] = src[i].isNaN ? quiet : rounded
    }
}

/// Interleaves two runs of 16-bit values (k steps 2p and 2p + 1 across `rows` x `panels`
/// rows) into 32-bit pair words, the first run in the low half: run values [q*rows,
/// (q+1)*rows) go to dst + q*stride (one k slot of each of `panels` packed panels).
public typealias InterleaveFunction = @convention(c) (_ lo: UnsafePointer<UInt16>, _ hi: UnsafePointer<UInt16>,
                                                      _ dst: UnsafeMutablePointer<UInt32>, _ rows: Int,
                                                      _ panels: Int, _ stride: Int) -> Void

/// `InterleaveFunction` as plain loops, vectorised by the compiler (zero-extend, shift, or).
@inlinable @inline(__always)
public func interleavePairs(_ lo: UnsafePointer<UInt16>, _ hi: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<UInt32>,
                            _ rows: Int, _ panels: Int, _ stride: Int) {
    for q in 0..<panels {
        let (l, h, d) = (lo + q &* rows, hi + q &* rows, dst + q &* stride)
        for i in 0..<rows { d[i] = UInt32(l[i]) | UInt32(h[i]) << 16 }
    }
}
