// The strided loop kernel: the general fallback for steps too small or too thin for the
// packed GEMM (elementwise products, outer products, reductions, traces, permuted copies).
//
//   c[o] = alpha * sum_k a[o, k] * b[o, k]     (b absent: a one)
//
// Every index set is walked by an odometer over (size, strides) dimensions, so any layout
// (negative, zero or arbitrary strides, diagonals) is read in place.

/// One loop dimension: its size and the element strides of a, b and c along it.
struct Dim {
    var size: Int
    var a: Int
    var b: Int
    var c: Int
}

/// Odometer state over `dims` (last dim fastest), tracking offsets into a, b, c.
struct Odometer {
    let dims: [Dim]
    var index: [Int]
    var a = 0, b = 0, c = 0

    init(_ dims: [Dim], start: Int = 0) {
        self.dims = dims
        index = [Int](repeating: 0, count: dims.count)
        var rest = start
        for d in stride(from: dims.count - 1, through: 0, by: -1) where dims[d].size > 0 {
            let i = rest % dims[d].size
            rest /= dims[d].size
            index[d] = i
            a += i * dims[d].a; b += i * dims[d].b; c += i * dims[d].c
        }
    }

    @inline(__always) mutating func next() {
        var d = dims.count - 1
        while d >= 0 {
            index[d] += 1
            a += dims[d].a; b += dims[d].b; c += dims[d].c
            if index[d] < dims[d].size { return }
            a -= dims[d].a * dims[d].size; b -= dims[d].b * dims[d].size; c -= dims[d].c * dims[d].size
            index[d] = 0
            d -= 1
        }
    }
}

/// Loop threshold: work below this many multiply-adds stays on the calling thread.
let parallelLoopWork = 1 << 17

func loopKernel<E: Element>(a: UnsafePointer<E>, b: UnsafePointer<E>?, c: UnsafeMutablePointer<E>,
                            outer: [Dim], inner: [Dim], alpha: E.Acc) {
    let outer = outer.filter { $0.size != 1 }.sorted { abs($0.c) > abs($1.c) }
    let inner = inner.filter { $0.size != 1 }.sorted { abs($0.a) + abs($0.b) > abs($1.a) + abs($1.b) }
    let outerCount = outer.reduce(1) { $0 * $1.size }
    let innerCount = inner.reduce(1) { $0 * $1.size }
    if outerCount == 0 { return }
    // Walk the outer set as rows of its fastest dimension.
    let row = outer.last ?? Dim(size: 1, a: 0, b: 0, c: 0)
    let rowDims = Array(outer.dropLast())
    let rows = outerCount / row.size
    let one = E.Acc.one
    let bPtr = b ?? UnsafePointer(UnsafeMutablePointer<E>(mutating: a))  // unused when b == nil
    let kRow = inner.last ?? Dim(size: 1, a: 0, b: 0, c: 0)
    let kDims = Array(inner.dropLast())
    let kRows = innerCount / max(kRow.size, 1)

    func runRows(_ first: Int, _ last: Int) {
        var o = Odometer(rowDims, start: first)
        for _ in first..<last {
            let pa = a + o.a, pb = bPtr + o.b, pc = c + o.c
            if innerCount == 1 {
                // No summation: elementwise product / copy along the row.
                if let _ = b {
                    for i in 0..<row.size {
                        pc[i * row.c] = E(acc: E.Acc.mul(alpha, E.Acc.mul(pa[i * row.a].acc, pb[i * row.b].acc)))
                    }
                } else {
                    for i in 0..<row.size { pc[i * row.c] = E(acc: E.Acc.mul(alpha, pa[i * row.a].acc)) }
                }
            } else {
                for i in 0..<row.size {
                    var acc = E.Acc.zero
                    if innerCount > 0 {
                        var k = Odometer(kDims)
                        for _ in 0..<kRows {
                            let qa = pa + i * row.a + k.a, qb = pb + i * row.b + k.b
                            if b != nil {
                                for p in 0..<kRow.size {
                                    acc = E.Acc.add(acc, E.Acc.mul(qa[p * kRow.a].acc, qb[p * kRow.b].acc))
                                }
                            } else {
                                for p in 0..<kRow.size { acc = E.Acc.add(acc, E.Acc.mul(qa[p * kRow.a].acc, one)) }
                            }
                            k.next()
                        }
                    }
                    pc[i * row.c] = E(acc: E.Acc.mul(alpha, acc))
                }
            }
            o.next()
        }
    }

    let threads = min(Threads.count, rows)
    if threads > 1 && outerCount * max(innerCount, 1) >= parallelLoopWork {
        parallelFor(threads) { t in runRows(rows * t / threads, rows * (t + 1) / threads) }
    } else {
        runRows(0, rows)
    }
}
