// The packed GEMM engine (BLIS / TBLIS style) for one contraction step:
//
//   c[b, m, n] = alpha * sum_k a[b, m, k] * b[b, n, k]
//
// where each of batch, M, N and K is a *set* of labels with arbitrary strides. The M, N and
// K sets are flattened through offset tables (offset of every flattened index in each
// tensor), so packing reads the operands where they are: no permuted copy of an input is
// ever made. Packed panels feed the ISA-selected micro-kernel; rows of C are addressed
// through the table too, so any output layout is written in place.

/// Cache blocking (elements). KC x NR panels of B stay in L1 across a micro-kernel sweep,
/// MC x KC of A in L2, KC x NC of B in L3.
struct Blocking {
    let kc: Int, mc: Int, nc: Int
    init<T>(_: T.Type, mr: Int, nr: Int) {
        let size = MemoryLayout<T>.stride
        kc = max(64, 1024 / max(size, 4))           // 256 floats, 128 doubles
        mc = max(mr, (96 * 1024 / (kc * size)) / mr * mr)
        nc = max(nr, (2 * 1024 * 1024 / (kc * size)) / nr * nr)
    }
}

/// Offsets of every flattened index of `dims` (last dim fastest) along one tensor's strides.
func offsetTable(_ dims: [Dim], _ stride: (Dim) -> Int) -> [Int] {
    var table = [0]
    for d in dims {
        let s = stride(d)
        var next = [Int]()
        next.reserveCapacity(table.count * d.size)
        for base in table { for i in 0..<d.size { next.append(base + i * s) } }
        table = next
    }
    return table
}

/// Uniform stride of a table (nil if its offsets are not an arithmetic progression).
func uniformStride(_ t: [Int]) -> Int? {
    guard t.count > 1 else { return 0 }
    let s = t[1] - t[0]
    for i in 1..<t.count where t[i] - t[i - 1] != s { return nil }
    return s
}

/// How a packing routine walks one index set: through its offset table, or, when the
/// table is an arithmetic progression, by a plain stride (which lets the compiler turn
/// contiguous copies into vector moves).
struct PackAxis {
    let table: [Int]
    let step: Int?
    init(_ table: [Int]) {
        self.table = table
        step = uniformStride(table)
    }
}

/// Packs rows [r0, r0+count) x k [k0, k0+kc) of `src` into micro-panels of `R` rows:
/// dst[panel][p * R + i]. Rows past `count` are zero so the kernel never branches.
/// `rowsOuter` walks each row along k (k contiguous in memory), else each k across rows.
@inline(__always)
func pack<E: Element>(_ src: UnsafePointer<E>, rows: PackAxis, r0: Int, ks: PackAxis, k0: Int,
                      count: Int, kc: Int, R: Int, rowsOuter: Bool, into dst: UnsafeMutablePointer<E.Acc>) {
    rows.table.withUnsafeBufferPointer { rt in
    ks.table.withUnsafeBufferPointer { kt in
        let rowOff = rt.baseAddress! + r0, kOff = kt.baseAddress! + k0
        var panel = 0
        while panel < count {
            let n = min(R, count - panel)
            let d = dst + panel * kc
            switch (rows.step, ks.step, rowsOuter) {
            case (1?, let kst?, false):
                // Rows contiguous: each k step copies a run of n elements.
                var s = src + rowOff[panel] + kOff[0]
                for p in 0..<kc {
                    for i in 0..<n { d[p * R + i] = s[i].acc }
                    s += kst
                }
            case (let rst?, 1?, true):
                // k contiguous: stream along each row.
                for i in 0..<n {
                    let s = src + rowOff[0] + (panel + i) * rst + kOff[0]
                    for p in 0..<kc { d[p * R + i] = s[p].acc }
                }
            case (_, _, true):
                for i in 0..<n {
                    let base = src + rowOff[panel + i]
                    for p in 0..<kc { d[p * R + i] = base[kOff[p]].acc }
                }
            case (_, _, false):
                for p in 0..<kc {
                    let base = src + kOff[p]
                    for i in 0..<n { d[p * R + i] = base[rowOff[panel + i]].acc }
                }
            }
            if n < R { for p in 0..<kc { for i in n..<R { d[p * R + i] = E.Acc.zero } } }
            panel += R
        }
    } }
}

struct GemmProblem {
    var batch: [Dim]
    var m: [Dim]   // a and c strides
    var n: [Dim]   // b and c strides
    var k: [Dim]   // a and b strides
}

func gemmKernel<E: Element>(a: UnsafePointer<E>, b: UnsafePointer<E>, c: UnsafeMutablePointer<E>,
                            problem: GemmProblem, alpha: E.Acc) throws(EinsumError) {
    let kernel = E.Acc.microkernel
    let MR = kernel.mr, NR = kernel.nr
    // Within each set, order dims so that consecutive indices are closest in memory.
    let mDims = problem.m.sorted { abs($0.a) > abs($1.a) }
    let nDims = problem.n.sorted { abs($0.b) > abs($1.b) }
    let kDims = problem.k.sorted { abs($0.a) + abs($0.b) > abs($1.a) + abs($1.b) }
    let offAM = PackAxis(offsetTable(mDims) { $0.a }), offCM = offsetTable(mDims) { $0.c }
    let offBN = PackAxis(offsetTable(nDims) { $0.b }), offCN = offsetTable(nDims) { $0.c }
    let offAK = PackAxis(offsetTable(kDims) { $0.a }), offBK = PackAxis(offsetTable(kDims) { $0.b })
    let M = offCM.count, N = offCN.count, K = offAK.table.count
    let batch = problem.batch.filter { $0.size != 1 }
    let nb = batch.reduce(1) { $0 * $1.size }
    if M == 0 || N == 0 || nb == 0 { return }
    // Pack along whichever index is contiguous in memory.
    func rowsOuter(_ rows: PackAxis, _ ks: PackAxis) -> Bool {
        K > 1 && (rows.table.count == 1 || abs(ks.table[1] - ks.table[0]) < abs(rows.table[1] - rows.table[0]))
    }
    let aRowsOuter = rowsOuter(offAM, offAK), bRowsOuter = rowsOuter(offBN, offBK)
    // Direct stores when C's N index is an arithmetic progression and no conversion is needed.
    let csN = uniformStride(offCN)
    let direct = E.self == E.Acc.self && csN != nil

    let blk = Blocking(E.Acc.self, mr: MR, nr: NR)
    let threads = Threads.count
    // Split batch first, then the larger of M and N, into at least `threads` work items.
    var mSplit = 1, nSplit = 1
    if nb < threads {
        let need = (threads + nb - 1) / nb
        if M >= N { mSplit = min(need, (M + MR - 1) / MR) } else { nSplit = min(need, (N + NR - 1) / NR) }
    }
    let items = nb * mSplit * nSplit
    let workers = min(threads, items)
    let mChunk = ((M + mSplit - 1) / mSplit + MR - 1) / MR * MR
    let nChunk = ((N + nSplit - 1) / nSplit + NR - 1) / NR * NR

    // Per-worker buffers, allocated up front so a failure is reported before any work.
    let kcMax = min(blk.kc, max(K, 1))
    let aSize = blk.mc * kcMax, bSize = min(blk.nc, (N + NR - 1) / NR * NR) * kcMax
    let perWorker = aSize + bSize + MR * NR
    let work = try allocate(E.Acc.self, count: perWorker * workers, what: "GEMM packing buffers")
    defer { deallocate(work) }
    let workP = SendablePointer(p: work)

    func run(worker: Int) {
        let bufA = workP.p + worker * perWorker
        let bufB = bufA + aSize
        let tile = bufB + bSize
        var rowOff = [Int](repeating: 0, count: MR)
        let tileRows = (0..<MR).map { $0 * NR }
        var item = worker
        while item < items {
            let bi = item / (mSplit * nSplit), mi = (item / nSplit) % mSplit, ni = item % nSplit
            item += workers
            let o = Odometer(batch, start: bi)
            let (pa, pb, pc) = (a + o.a, b + o.b, c + o.c)
            let m0 = mi * mChunk, m1 = min(M, m0 + mChunk)
            let n0 = ni * nChunk, n1 = min(N, n0 + nChunk)
            if m0 >= m1 || n0 >= n1 { continue }
            if K == 0 {
                // Empty sum: the result is zero.
                for m in m0..<m1 { for n in n0..<n1 { pc[offCM[m] + offCN[n]] = E(acc: E.Acc.zero) } }
                continue
            }
            var jc = n0
            while jc < n1 {
                let nc = min(blk.nc, n1 - jc)
                var pcK = 0
                while pcK < K {
                    let kc = min(blk.kc, K - pcK)
                    pack(pb, rows: offBN, r0: jc, ks: offBK, k0: pcK, count: nc, kc: kc,
                         R: NR, rowsOuter: bRowsOuter, into: bufB)
                    var ic = m0
                    while ic < m1 {
                        let mc = min(blk.mc, m1 - ic)
                        pack(pa, rows: offAM, r0: ic, ks: offAK, k0: pcK, count: mc, kc: kc,
                             R: MR, rowsOuter: aRowsOuter, into: bufA)
                        var jr = 0
                        while jr < nc {
                            let nr = min(NR, nc - jr)
                            var ir = 0
                            while ir < mc {
                                let mr = min(MR, mc - ir)
                                let panelA = UnsafePointer(bufA + ir * kc), panelB = UnsafePointer(bufB + jr * kc)
                                if direct {
                                    for i in 0..<mr { rowOff[i] = offCM[ic + ir + i] + offCN[jc + jr] }
                                    let cAcc = UnsafeMutableRawPointer(pc).assumingMemoryBound(to: E.Acc.self)
                                    kernel.run(kc, panelA, panelB, cAcc, rowOff, csN!, mr, nr, alpha, pcK > 0)
                                } else {
                                    kernel.run(kc, panelA, panelB, tile, tileRows, 1, mr, nr, E.Acc.one, false)
                                    for i in 0..<mr {
                                        let row = pc + offCM[ic + ir + i]
                                        for j in 0..<nr {
                                            let dst = row + offCN[jc + jr + j]
                                            let v = E.Acc.mul(alpha, tile[i * NR + j])
                                            dst.pointee = E(acc: pcK > 0 ? E.Acc.add(dst.pointee.acc, v) : v)
                                        }
                                    }
                                }
                                ir += MR
                            }
                            jr += NR
                        }
                        ic += mc
                    }
                    pcK += kc
                }
                jc += nc
            }
        }
    }
    parallelFor(workers) { run(worker: $0) }
}
