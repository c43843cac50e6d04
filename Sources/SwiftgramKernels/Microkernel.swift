// The register-blocked GEMM micro-kernel, written once, generic over the SIMD vector type.
//
// Each ISA module (KernelsAVX512, KernelsAVX2, KernelsPortable) instantiates it with its own
// vector width under its own -march flags; nothing generic crosses from those modules into
// the core, so the linker can never merge an AVX-512 specialisation into another path.
//
// Contract (BLIS-style): with packed panels
//   a[p*MR + i]  (MR = 6 or 8 rows of A for each k step p)
//   b[p*NR + j]  (NR = 2 vectors of B for each k step p)
// it computes, for i < mr, j < nr,
//   c[rowOff[i] + j*cs] = alpha * sum_{p<kc} a[p*MR+i] * b[p*NR+j]   (+ old value if accumulate)
// Rows are addressed through an offset table so any output layout of the M index set works;
// columns need a uniform stride (the framework falls back to a tile buffer otherwise).

import CSupport

/// Rows of the register block. 6 x 2 vectors keeps 12 accumulators + 2 B vectors + one
/// broadcast in registers on 16-register ISAs (AVX2, SSE). AVX-512's 32 registers hold
/// 8 x 2: fewer loads per FMA, and the power-of-two M of real Grams (64, 128, ...) splits
/// into whole tiles (6 rows waste 3% of a 128-row product on its last tile).
public let microkernelRows = 6, wideMicrokernelRows = 8

/// Arguments of one micro-kernel call (see the contract above).
public struct Tile<T> {
    public var kc: Int
    public var a: UnsafePointer<T>, aStep: Int
    public var b: UnsafePointer<T>, bStep: Int
    public var c: UnsafeMutablePointer<T>, rowOff: UnsafePointer<Int>, cs: Int
    public var mr: Int, nr: Int
    public var alpha: T
    public var accumulate: Bool
    /// Where to store the B vectors read, as the packed panel b'[p*NR + j] (the full form
    /// only): a panel of B read in place from the operand is packed by the first tile that
    /// uses it, its loads overlapping that tile's FMAs instead of a copy pass of their own.
    public var bCopy: UnsafeMutablePointer<T>?
    /// With bCopy: bytes of each row of b, from its start, fetched bCopyAhead k steps ahead.
    public var bFetch: Int
    @inlinable
    public init(kc: Int, a: UnsafePointer<T>, aStep: Int, b: UnsafePointer<T>, bStep: Int,
                c: UnsafeMutablePointer<T>, rowOff: UnsafePointer<Int>, cs: Int, mr: Int, nr: Int,
                alpha: T, accumulate: Bool, bCopy: UnsafeMutablePointer<T>? = nil, bFetch: Int = 0) {
        self.kc = kc; self.a = a; self.aStep = aStep; self.b = b; self.bStep = bStep
        self.c = c; self.rowOff = rowOff; self.cs = cs; self.mr = mr; self.nr = nr
        self.alpha = alpha; self.accumulate = accumulate; self.bCopy = bCopy; self.bFetch = bFetch
    }
}

/// A micro-kernel entry point for one element type.
public typealias MicrokernelFunction<T> = (Tile<T>) -> Void

/// A micro-kernel and its register-block shape, with packing's transpositions compiled
/// for the same ISA.
public struct Microkernel<T> {
    public let mr: Int
    public let nr: Int
    public let run: MicrokernelFunction<T>
    /// The same contract for at most nr / 2 columns at half the cost (one vector of B per k
    /// step): the symmetric product's tiles that straddle the diagonal need only their right
    /// half. nil where the kernel has no narrow form.
    public let narrow: MicrokernelFunction<T>?
    /// Packing's transpositions of `lanes` x `lanes` blocks (see Transpose.swift), widest
    /// (this ISA's vector width) first, down to a few lanes for the runs left over; none
    /// for the scalar kernels.
    public let transposes: [(lanes: Int, run: TransposeFunction<T>)]
    /// Packing's interleave of two runs into pair words where the panels hold pairs (see
    /// Widen.swift), compiled for the same ISA; nil: the panels hold T.
    public let interleave: InterleaveFunction?
    /// The panels hold bfloat16 pairs rather than T: each slot is a 32-bit word with the
    /// values of k steps 2p and 2p + 1 (low half first), and a tile's kc counts pairs.
    public var pairs: Bool { interleave != nil }
    public init(mr: Int, nr: Int, run: @escaping MicrokernelFunction<T>, narrow: MicrokernelFunction<T>? = nil,
                transposes: [(lanes: Int, run: TransposeFunction<T>)] = [], interleave: InterleaveFunction? = nil) {
        self.mr = mr
        self.nr = nr
        self.run = run
        self.narrow = narrow
        self.transposes = transposes
        self.interleave = interleave
    }
}

extension Microkernel where T: BinaryFloatingPoint {
    /// The kernel set of one SIMD vector type V: a `rows` x 2V register block, its one-vector
    /// narrow form, and packing's transposes at V's width and at each narrower type given.
    /// Always inlined, so every closure is specialised in the calling ISA module, under its
    /// flags.
    @inlinable @inline(__always)
    public init<V: SIMD>(_: V.Type, fused: Bool, rows: Int = microkernelRows,
                         narrower: [(lanes: Int, run: TransposeFunction<T>)] = []) where V.Scalar == T {
        self.init(mr: rows, nr: 2 * V.scalarCount,
                  run: { simdMicrokernel(V.self, fused: fused, rows: rows, $0) },
                  narrow: { simdMicrokernel(V.self, fused: fused, rows: rows, vectors: 1, $0) },
                  transposes: [(V.scalarCount, { simdTranspose(V.self, $0, $1, $2, $3) })] + narrower)
    }
}

/// One multiply-add of the register block, c += a * b, where an ISA has its own (the dot
/// product of bfloat16 pairs: every float32 lane gains two products). Passed as a closure
/// literal written in the ISA module itself: a C intrinsic wrapper called from a closure
/// of this module's is kept out of line there.
public typealias MultiplyAdd<V> = (_ c: inout V, _ a: V, _ b: V) -> Void

/// Packing's transposition at W's width, for `Microkernel.init(_:fused:rows:narrower:)`.
@inlinable @inline(__always)
public func transpose<W: SIMD>(_: W.Type) -> (lanes: Int, run: TransposeFunction<W.Scalar>) {
    (W.scalarCount, { simdTranspose(W.self, $0, $1, $2, $3) })
}

/// How many k steps ahead a tile packing B (Tile.bCopy) fetches the operand's rows.
public let bCopyAhead = 16

@inlinable @inline(__always)
func fma<V: SIMD>(_ c: inout V, _ a: V, _ b: V, fused: Bool) where V.Scalar: FloatingPoint {
    // Without hardware FMA (baseline x86-64) a fused multiply-add becomes a libm call per lane.
    if fused { c.addProduct(a, b) } else { c += a * b }
}

/// `rows` (6 or 8: any other value computes 6) and `vectors` (2, or 1 for the narrow form)
/// are constants at every call, so each form compiles to its own loop with only its own
/// accumulators; a tile that packs B (Tile.bCopy) gets a loop of its own too, so the others
/// carry no test for it.
@inlinable @inline(__always)
public func simdMicrokernel<V: SIMD>(
    _: V.Type, fused: Bool, rows: Int = microkernelRows, vectors: Int = 2, product: MultiplyAdd<V>? = nil,
    _ t: Tile<V.Scalar>
) where V.Scalar: BinaryFloatingPoint {
    if vectors == 2 && t.bCopy != nil {
        simdMicrokernel(V.self, fused: fused, rows: rows, vectors: 2, copying: true, product: product, t)
    } else {
        simdMicrokernel(V.self, fused: fused, rows: rows, vectors: vectors, copying: false, product: product, t)
    }
}

/// `product` (nil: a fused or plain multiply-add) is what the k loop multiplies with;
/// the stores always scale and add in T.
@inlinable @inline(__always)
func simdMicrokernel<V: SIMD>(
    _: V.Type, fused: Bool, rows: Int, vectors: Int, copying: Bool, product: MultiplyAdd<V>? = nil, _ t: Tile<V.Scalar>
) where V.Scalar: BinaryFloatingPoint {
    let (kc, c, rowOff, cs, mr, nr, alpha) = (t.kc, t.c, t.rowOff, t.cs, t.mr, t.nr, t.alpha)
    @inline(__always) func madd(_ c: inout V, _ a: V, _ b: V) {
        if let product { product(&c, a, b) } else { fma(&c, a, b, fused: fused) }
    }
    let w = V.scalarCount
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
    var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
    var c60 = V(), c61 = V(), c70 = V(), c71 = V()
    // C's tile is read (accumulate) or written only after the k loop: fetch its lines now
    // so a C larger than the caches does not stall the stores (K-blocked products revisit
    // every tile once per K block).
    for i in 0..<mr {
        sg_prefetch(c + rowOff[i])
        sg_prefetch(c + rowOff[i] + (nr - 1) * cs)
    }
    var pa = t.a
    var pb = UnsafeRawPointer(t.b)
    let stepA = t.aStep, stepB = t.bStep * MemoryLayout<V.Scalar>.stride
    if vectors == 2 {
        let half = w * MemoryLayout<V.Scalar>.stride  // bytes of one vector of B
        var copy = UnsafeMutableRawPointer(t.bCopy)
        for _ in 0..<kc {
            let b0 = pb.loadUnaligned(as: V.self)
            let b1 = pb.loadUnaligned(fromByteOffset: half, as: V.self)
            if copying, let dst = copy {
                // Packing as it goes: store the panel's row, fetch the one bCopyAhead steps on.
                dst.storeBytes(of: b0, as: V.self)
                dst.storeBytes(of: b1, toByteOffset: half, as: V.self)
                copy = dst + 2 * half
                let next = pb + bCopyAhead &* stepB
                for line in stride(from: 0, to: t.bFetch, by: 64) { sg_prefetch(next + line) }
            }
            var ai = V(repeating: pa[0]); madd(&c00, ai, b0); madd(&c01, ai, b1)
            ai = V(repeating: pa[1]); madd(&c10, ai, b0); madd(&c11, ai, b1)
            ai = V(repeating: pa[2]); madd(&c20, ai, b0); madd(&c21, ai, b1)
            ai = V(repeating: pa[3]); madd(&c30, ai, b0); madd(&c31, ai, b1)
            ai = V(repeating: pa[4]); madd(&c40, ai, b0); madd(&c41, ai, b1)
            ai = V(repeating: pa[5]); madd(&c50, ai, b0); madd(&c51, ai, b1)
            if rows == 8 {
                ai = V(repeating: pa[6]); madd(&c60, ai, b0); madd(&c61, ai, b1)
                ai = V(repeating: pa[7]); madd(&c70, ai, b0); madd(&c71, ai, b1)
            }
            pa += stepA
            pb += stepB
        }
    } else {
        for _ in 0..<kc {
            let b0 = pb.loadUnaligned(as: V.self)
            madd(&c00, V(repeating: pa[0]), b0); madd(&c10, V(repeating: pa[1]), b0)
            madd(&c20, V(repeating: pa[2]), b0); madd(&c30, V(repeating: pa[3]), b0)
            madd(&c40, V(repeating: pa[4]), b0); madd(&c50, V(repeating: pa[5]), b0)
            if rows == 8 {
                madd(&c60, V(repeating: pa[6]), b0); madd(&c70, V(repeating: pa[7]), b0)
            }
            pa += stepA
            pb += stepB
        }
    }
    let va = V(repeating: alpha)
    if cs == 1 && nr == vectors * w {
        // Whole rows at unit stride (the usual case): stored straight from the registers,
        // the old value added by one more FMA.
        let size = MemoryLayout<V>.stride
        @inline(__always) func store(_ row: UnsafeMutableRawPointer, _ offset: Int, _ x: V) {
            var r = va * x
            if t.accumulate {
                r = row.loadUnaligned(fromByteOffset: offset, as: V.self)
                fma(&r, va, x, fused: fused)
            }
            row.storeBytes(of: r, toByteOffset: offset, as: V.self)
        }
        @inline(__always) func store(_ i: Int, _ x0: V, _ x1: V) {
            if i >= mr { return }
            let row = UnsafeMutableRawPointer(c + rowOff[i])
            store(row, 0, x0)
            if vectors == 2 { store(row, size, x1) }
        }
        store(0, c00, c01); store(1, c10, c11); store(2, c20, c21)
        store(3, c30, c31); store(4, c40, c41); store(5, c50, c51)
        if rows == 8 { store(6, c60, c61); store(7, c70, c71) }
        return
    }
    // A ragged or strided tile: lane by lane, rounded as the vector path rounds.
    withUnsafeTemporaryAllocation(of: V.self, capacity: 16) { acc in
        acc[0] = c00; acc[1] = c01; acc[2] = c10; acc[3] = c11; acc[4] = c20; acc[5] = c21
        acc[6] = c30; acc[7] = c31; acc[8] = c40; acc[9] = c41; acc[10] = c50; acc[11] = c51
        acc[12] = c60; acc[13] = c61; acc[14] = c70; acc[15] = c71
        let lanes = UnsafeRawPointer(acc.baseAddress!).assumingMemoryBound(to: V.Scalar.self)
        for i in 0..<mr {
            let row = c + rowOff[i]
            for j in 0..<nr {
                let x = lanes[2 * w * i + j]
                row[j * cs] = !t.accumulate ? alpha * x : fused ? row[j * cs].addingProduct(alpha, x) : row[j * cs] + alpha * x
            }
        }
    }
}

/// A unit-stride reduction: sum_i a[i] * b[i], or sum_i a[i] when b is nil.
public typealias DotFunction<T> = (_ n: Int, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>?) -> T

/// Vectorised `DotFunction`: eight independent vector accumulators (enough chains for two
/// FMA units) summed in blocks of `sumBlock` vectors (128 adds per lane); the blocks' sums
/// gather in a middle sum, folded every 64 blocks into a top one. A lane adds at most
/// 128 + 64 + n / (2^16 w) terms in sequence, so the rounding error stays far below a
/// running sum's (NumPy's reductions add 8192-element chunks in sequence), at a streaming
/// loop's speed.
@inlinable @inline(__always)
public func simdDot<V: SIMD>(_: V.Type, fused: Bool, _ n: Int, _ a: UnsafePointer<V.Scalar>,
                             _ b: UnsafePointer<V.Scalar>?) -> V.Scalar where V.Scalar: BinaryFloatingPoint {
    let w = V.scalarCount
    let ra = UnsafeRawPointer(a), rb = b.map { UnsafeRawPointer($0) }
    let size = MemoryLayout<V.Scalar>.stride
    @inline(__always) func load(_ p: UnsafeRawPointer, _ i: Int) -> V { p.loadUnaligned(fromByteOffset: i * size, as: V.self) }
    var top = V(), middle = V(), blocks = 0
    var i = 0
    while i + 8 * w <= n {
        let end = min(n - (n - i) % (8 * w), i + sumBlock * w)
        var s0 = V(), s1 = V(), s2 = V(), s3 = V(), s4 = V(), s5 = V(), s6 = V(), s7 = V()
        if let rb {
            while i < end {
                fma(&s0, load(ra, i), load(rb, i), fused: fused)
                fma(&s1, load(ra, i + w), load(rb, i + w), fused: fused)
                fma(&s2, load(ra, i + 2 * w), load(rb, i + 2 * w), fused: fused)
                fma(&s3, load(ra, i + 3 * w), load(rb, i + 3 * w), fused: fused)
                fma(&s4, load(ra, i + 4 * w), load(rb, i + 4 * w), fused: fused)
                fma(&s5, load(ra, i + 5 * w), load(rb, i + 5 * w), fused: fused)
                fma(&s6, load(ra, i + 6 * w), load(rb, i + 6 * w), fused: fused)
                fma(&s7, load(ra, i + 7 * w), load(rb, i + 7 * w), fused: fused)
                i += 8 * w
            }
        } else {
            while i < end {
                s0 += load(ra, i); s1 += load(ra, i + w); s2 += load(ra, i + 2 * w); s3 += load(ra, i + 3 * w)
                s4 += load(ra, i + 4 * w); s5 += load(ra, i + 5 * w); s6 += load(ra, i + 6 * w); s7 += load(ra, i + 7 * w)
                i += 8 * w
            }
        }
        middle += ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
        blocks += 1
        if blocks == 64 { (top, middle, blocks) = (top + middle, V(), 0) }
    }
    var lanes = top + middle
    while i + w <= n {
        if let rb { fma(&lanes, load(ra, i), load(rb, i), fused: fused) } else { lanes += load(ra, i) }
        i += w
    }
    var total = lanes.sum()
    while i < n { total += b.map { a[i] * $0[i] } ?? a[i]; i += 1 }
    return total
}

/// Vectors per block of `simdDot`'s innermost sums: 128 adds per accumulator lane.
public let sumBlock = 1024
