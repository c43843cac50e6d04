// The sweep of sums across a row of outputs (the loop kernel's ReduceAcross): four terms
// added into every lane at once, each lane's additions in term order.

/// Four term rows added into the lanes t[0..<n]:
/// t[w] = (((t[w] + a0[w] * s0) + a1[w] * s1) + a2[w] * s2) + a3[w] * s3, or without
/// scalars (s nil) t[w] = (((t[w] + a0[w]) + a1[w]) + a2[w]) + a3[w]. Products are rounded
/// before they are added (no fused multiply-add), so every ISA gives each lane the value
/// of adding its terms one by one, bit for bit.
public typealias SweepFunction<T> = (_ n: Int, _ t: UnsafeMutablePointer<T>,
                                     _ a: (UnsafePointer<T>, UnsafePointer<T>, UnsafePointer<T>, UnsafePointer<T>),
                                     _ s: (T, T, T, T)?) -> Void

/// `SweepFunction` in vectors of V: one load and store of the lanes per four terms.
@inlinable @inline(__always)
public func simdSweep<V: SIMD>(_: V.Type, _ n: Int, _ t: UnsafeMutablePointer<V.Scalar>,
                               _ a: (UnsafePointer<V.Scalar>, UnsafePointer<V.Scalar>, UnsafePointer<V.Scalar>, UnsafePointer<V.Scalar>),
                               _ s: (V.Scalar, V.Scalar, V.Scalar, V.Scalar)?) where V.Scalar: BinaryFloatingPoint {
    let w = V.scalarCount, size = MemoryLayout<V.Scalar>.stride
    let rt = UnsafeMutableRawPointer(t)
    let (r0, r1, r2, r3) = (UnsafeRawPointer(a.0), UnsafeRawPointer(a.1), UnsafeRawPointer(a.2), UnsafeRawPointer(a.3))
    @inline(__always) func load(_ p: UnsafeRawPointer, _ i: Int) -> V { p.loadUnaligned(fromByteOffset: i * size, as: V.self) }
    var i = 0
    if let s {
        let (v0, v1, v2, v3) = (V(repeating: s.0), V(repeating: s.1), V(repeating: s.2), V(repeating: s.3))
        while i + w <= n {
            var x = load(rt, i) + load(r0, i) * v0
            x = x + load(r1, i) * v1
            x = x + load(r2, i) * v2
            rt.storeBytes(of: x + load(r3, i) * v3, toByteOffset: i * size, as: V.self)
            i += w
        }
        while i < n {
            var x = t[i] + a.0[i] * s.0
            x = x + a.1[i] * s.1
            x = x + a.2[i] * s.2
            t[i] = x + a.3[i] * s.3
            i += 1
        }
    } else {
        while i + w <= n {
            let x = ((load(rt, i) + load(r0, i)) + load(r1, i)) + load(r2, i)
            rt.storeBytes(of: x + load(r3, i), toByteOffset: i * size, as: V.self)
            i += w
        }
        while i < n {
            t[i] = (((t[i] + a.0[i]) + a.1[i]) + a.2[i]) + a.3[i]
            i += 1
        }
    }
}
