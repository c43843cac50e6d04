// The configuration in use, as text: what swiftgram.show_config() prints below the
// package's own lines (as numpy.show_config() does for its build).

import SwiftgramKernels
import CSupport

/// The ISA and its micro-kernels, the thread count, the caches and where they came from,
/// and the blocking derived from them per type.
public func configurationReport() -> String {
    let isa = ISA.selected, caches = Caches.machine
    func bytes(_ b: Int) -> String {
        b >= 1 << 20 && b % (1 << 20) == 0 ? "\(b >> 20) MiB" : b % 1024 == 0 ? "\(b >> 10) KiB" : "\(b) B"
    }
    // `bytes`: of one packed element (a pair kernel packs the 16-bit values themselves).
    func blocking<T>(_ name: String, _ kernel: Microkernel<T>, bytes: Int = MemoryLayout<T>.stride) -> String {
        let wide = Blocking(elementBytes: bytes, mr: kernel.mr, nr: kernel.nr, n: 1 << 30, k: 1 << 30)
        let narrow = Blocking(elementBytes: bytes, mr: kernel.mr, nr: kernel.nr, n: kernel.nr, k: 1 << 30)
        return "  \(name): micro-kernel \(kernel.mr)x\(kernel.nr), kc \(wide.kc) mc \(wide.mc) nc \(wide.nc)"
            + " (a packed B that fits one block: kc \(narrow.kc) mc \(narrow.mc))\n"
    }
    // float16 always, bfloat16 without a pair kernel: widened while packing, float32's kernel.
    func widened(_ name: String) -> String { "  \(name): widened to float32 while packing, float32's blocking\n" }
    let bfloat16 = isa.bfloat16Pairs.map { blocking("bfloat16 (pairs of k)", $0, bytes: 2) } ?? widened("bfloat16")
    return "ISA: \(isa.name) (supported: \(ISA.supported.map(\.name).joined(separator: ", ")))\n"
        + "threads: \(Threads.count) (\(sg_cpu_count()) CPUs online)\n"
        + "caches (\(caches.source)): L1d \(bytes(caches.l1d)), L2 \(bytes(caches.l2)), "
        + "L3 \(bytes(caches.l3)) shared by \(caches.l3Sharing) CPU\(caches.l3Sharing == 1 ? "" : "s")\n"
        + "blocking (elements):\n"
        + blocking("float32", isa.float32) + blocking("float64", isa.float64)
        + widened("float16") + bfloat16
        + "loop kernel: sums across a row in sweeps of \(acrossLanes(accumulatorBytes: 4)) float32 / "
        + "\(acrossLanes(accumulatorBytes: 8)) float64 lanes\n"
}
