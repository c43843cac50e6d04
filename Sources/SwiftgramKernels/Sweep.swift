// The sweep of sums across a row of lanes (the loop kernel's sums across a row of outputs,
// and its lane-by-lane sums of short runs): four terms added into every lane at once, each
// lane's additions in term order.

/// What each of a sweep's four term rows is multiplied by.
public enum SweepFactor<T> {
    /// Nothing: the rows' values are added.
    case none
    /// One value per row (the other operand, constant along the row).
    case scalars(T, T, T, T)
    /// One row shared by the four (the other operand, the same for these terms).
    case row(UnsafePointer<T>)
}

/// Four term rows a0...a3 added into the lanes t[0..<n] in order:
/// t[w] = (((t[w] + a0[w] * f0) + a1[w] * f1) + a2[w] * f2) + a3[w] * f3, the factors as
/// `SweepFactor` says. Products are rounded before they are added (no fused multiply-add),
/// so every ISA gives each lane the value of adding its terms one by one, bit for bit.
public typealias SweepFunction<T> = (_ n: Int, _ t: UnsafeMutablePointer<T>,
                                     _ a: (UnsafePointer<T>, UnsafePointer<T>, UnsafePointer<T>, UnsafePointer<T>),
                                     _ factor: SweepFactor<T>) -> Void

/// `SweepFunction` in vectors of V, then of H (narrower: short rows, such as 40 floats,
/// keep most of their remainder in vectors), then one lane at a time; one load and store
/// of the lanes per four terms.
@inlinable @inline(__always)
public func simdSweep<V: SIMD, H: SIMD>(_: V.Type, _: H.Type, _ n: Int, _ t: UnsafeMutablePointer<V.Scalar>,
                                        _ a: (UnsafePointer<V.Scalar>, UnsafePointer<V.Scalar>, UnsafePointer<V.Scalar>, UnsafePointer<V.Scalar>),
                                        _ factor: SweepFactor<V.Scalar>) where V.Scalar: BinaryFloatingPoint, H.Scalar == V.Scalar {
    var i = sweepPass(V.self, from: 0, n, t, a, factor)
    i = sweepPass(H.self, from: i, n, t, a, factor)
    switch factor {
    case .scalars(let s0, let s1, let s2, let s3):
        for j in i..<n { t[j] = (((t[j] + a.0[j] * s0) + a.1[j] * s1) + a.2[j] * s2) + a.3[j] * s3 }
    case .row(let b):
        for j in i..<n { t[j] = (((t[j] + a.0[j] * b[j]) + a.1[j] * b[j]) + a.2[j] * b[j]) + a.3[j] * b[j] }
    case .none:
        for j in i..<n { t[j] = (((t[j] + a.0[j]) + a.1[j]) + a.2[j]) + a.3[j] }
    }
}

/// The sweep's lanes [from, n) in vectors of W, as far as whole vectors go; returns where
/// it stopped.
@inlinable @inline(__always)
func sweepPass<W: SIMD>(_: W.Type, from start: Int, _ n: Int, _ t: UnsafeMutablePointer<W.Scalar>,
                        _ a: (UnsafePointer<W.Scalar>, UnsafePointer<W.Scalar>, UnsafePointer<W.Scalar>, UnsafePointer<W.Scalar>),
                        _ factor: SweepFactor<W.Scalar>) -> Int where W.Scalar: BinaryFloatingPoint {
    let w = W.scalarCount, size = MemoryLayout<W.Scalar>.stride
    let rt = UnsafeMutableRawPointer(t)
    let (r0, r1, r2, r3) = (UnsafeRawPointer(a.0), UnsafeRawPointer(a.1), UnsafeRawPointer(a.2), UnsafeRawPointer(a.3))
    @inline(__always) func load(_ p: UnsafeRawPointer, _ i: Int) -> W { p.loadUnaligned(fromByteOffset: i * size, as: W.self) }
    var i = start
    switch factor {
    case .scalars(let s0, let s1, let s2, let s3):
        let (v0, v1, v2, v3) = (W(repeating: s0), W(repeating: s1), W(repeating: s2), W(repeating: s3))
        while i + w <= n {
            var x = load(rt, i) + load(r0, i) * v0
            x = x + load(r1, i) * v1
            x = x + load(r2, i) * v2
            rt.storeBytes(of: x + load(r3, i) * v3, toByteOffset: i * size, as: W.self)
            i += w
        }
    case .row(let b):
        let rb = UnsafeRawPointer(b)
        while i + w <= n {
            let f = load(rb, i)
            var x = load(rt, i) + load(r0, i) * f
            x = x + load(r1, i) * f
            x = x + load(r2, i) * f
            rt.storeBytes(of: x + load(r3, i) * f, toByteOffset: i * size, as: W.self)
            i += w
        }
    case .none:
        while i + w <= n {
            let x = ((load(rt, i) + load(r0, i)) + load(r1, i)) + load(r2, i)
            rt.storeBytes(of: x + load(r3, i), toByteOffset: i * size, as: W.self)
            i += w
        }
    }
    return i
}
