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

/// `SweepFunction` in vectors of V: one load and store of the lanes per four terms.
@inlinable @inline(__always)
public func simdSweep<V: SIMD>(_: V.Type, _ n: Int, _ t: UnsafeMutablePointer<V.Scalar>,
                               _ a: (UnsafePointer<V.Scalar>, UnsafePointer<V.Scalar>, UnsafePointer<V.Scalar>, UnsafePointer<V.Scalar>),
                               _ factor: SweepFactor<V.Scalar>) where V.Scalar: BinaryFloatingPoint {
    let w = V.scalarCount, size = MemoryLayout<V.Scalar>.stride
    let rt = UnsafeMutableRawPointer(t)
    let (r0, r1, r2, r3) = (UnsafeRawPointer(a.0), UnsafeRawPointer(a.1), UnsafeRawPointer(a.2), UnsafeRawPointer(a.3))
    @inline(__always) func load(_ p: UnsafeRawPointer, _ i: Int) -> V { p.loadUnaligned(fromByteOffset: i * size, as: V.self) }
    var i = 0
    switch factor {
    case .scalars(let s0, let s1, let s2, let s3):
        let (v0, v1, v2, v3) = (V(repeating: s0), V(repeating: s1), V(repeating: s2), V(repeating: s3))
        while i + w <= n {
            var x = load(rt, i) + load(r0, i) * v0
            x = x + load(r1, i) * v1
            x = x + load(r2, i) * v2
            rt.storeBytes(of: x + load(r3, i) * v3, toByteOffset: i * size, as: V.self)
            i += w
        }
        while i < n {
            var x = t[i] + a.0[i] * s0
            x = x + a.1[i] * s1
            x = x + a.2[i] * s2
            t[i] = x + a.3[i] * s3
            i += 1
        }
    case .row(let b):
        let rb = UnsafeRawPointer(b)
        while i + w <= n {
            let f = load(rb, i)
            var x = load(rt, i) + load(r0, i) * f
            x = x + load(r1, i) * f
            x = x + load(r2, i) * f
            rt.storeBytes(of: x + load(r3, i) * f, toByteOffset: i * size, as: V.self)
            i += w
        }
        while i < n {
            let f = b[i]
            var x = t[i] + a.0[i] * f
            x = x + a.1[i] * f
            x = x + a.2[i] * f
            t[i] = x + a.3[i] * f
            i += 1
        }
    case .none:
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
