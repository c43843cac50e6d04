// Run-time choice of the micro-kernel set from the CPU's features.
// SWIFTGRAM_ISA=avx512bf16|avx512|avx2|portable forces a path (tests run each one); a forced path the
// CPU cannot run falls back to the best supported one instead of faulting.
import CSupport
import KernelsAVX2
import KernelsAVX512
import KernelsAVX512BF16
import KernelsPortable
import SwiftgramKernels

#if canImport(Glibc)
import Glibc
#endif

/// One instruction set's kernels: its name, whether this CPU runs it, and its micro-kernels
/// and reductions per type (each a module compiled with that ISA's flags; see Package.swift).
public struct ISA {
    public let name: String
    public let float32: Microkernel<Float>
    public let float64: Microkernel<Double>
    public let dot32: DotFunction<Float>
    public let dot64: DotFunction<Double>
    /// Four terms added across a row of sums (ReduceAcross), bit for bit the scalar order.
    public let sweep32: SweepFunction<Float>
    public let sweep64: SweepFunction<Double>
    /// float16 / bfloat16 <-> float32 runs, where the ISA converts in vectors (nil: the
    /// element types' own conversions, element by element).
    public let widenHalf: WidenFunction?
    public let narrowHalf: NarrowFunction?
    public let widenBFloat16: WidenFunction?
    public let narrowBFloat16: NarrowFunction?
    /// bfloat16 GEMMs multiplied in the ISA's own bfloat16 instructions, over pairs of k
    /// (Microkernel.pairs); nil: widened to float32 while packing, the float32 kernel.
    public let bfloat16Pairs: Microkernel<Float>?
    let check: () -> Bool

    /// Whether this CPU (and OS) can run the kernels.
    public var isSupported: Bool { check() }

    /// Every kernel set, best first: the engine takes the first one the CPU supports, and
    /// the tests run every supported one. Adding an ISA is one module and one line here.
    public static let registry: [ISA] = [
        avx512.with(name: "avx512bf16", bfloat16Pairs: bfloat16PairKernelAVX512BF16,
                    check: { sg_cpu_has_avx512_bf16() != 0 }),
        avx512,
        ISA(name: "avx2", float32: float32KernelAVX2, float64: float64KernelAVX2,
            dot32: float32DotAVX2, dot64: float64DotAVX2,
            sweep32: float32SweepAVX2, sweep64: float64SweepAVX2, widenHalf: widenHalfAVX2, narrowHalf: narrowHalfAVX2,
            widenBFloat16: widenBFloat16AVX2, narrowBFloat16: narrowBFloat16AVX2,
            bfloat16Pairs: nil, check: { sg_cpu_has_avx2_fma() != 0 }),
        ISA(name: "portable", float32: float32KernelPortable, float64: float64KernelPortable,
            dot32: float32DotPortable, dot64: float64DotPortable,
            sweep32: float32SweepPortable, sweep64: float64SweepPortable, widenHalf: nil, narrowHalf: nil,
            widenBFloat16: nil, narrowBFloat16: nil, bfloat16Pairs: nil, check: { true }),
    ]

    static let avx512 = ISA(name: "avx512", float32: float32KernelAVX512, float64: float64KernelAVX512,
                            dot32: float32DotAVX512, dot64: float64DotAVX512,
                            sweep32: float32SweepAVX512, sweep64: float64SweepAVX512, widenHalf: widenHalfAVX512,
                            narrowHalf: narrowHalfAVX512, widenBFloat16: widenBFloat16AVX512,
                            narrowBFloat16: narrowBFloat16AVX512, bfloat16Pairs: nil, check: { sg_cpu_has_avx512() != 0 })

    /// This kernel set plus a bfloat16 kernel over pairs of k, under another name and check
    /// (an ISA extension on top of this one's, as AVX512-BF16 is on AVX-512).
    func with(name: String, bfloat16Pairs: Microkernel<Float>?, check: @escaping () -> Bool) -> ISA {
        ISA(name: name, float32: float32, float64: float64, dot32: dot32, dot64: dot64, sweep32: sweep32, sweep64: sweep64,
            widenHalf: widenHalf,
            narrowHalf: narrowHalf, widenBFloat16: widenBFloat16, narrowBFloat16: narrowBFloat16,
            bfloat16Pairs: bfloat16Pairs, check: check)
    }

    /// The registry's entries this CPU runs, best first.
    public static var supported: [ISA] { registry.filter(\.isSupported) }

    /// The kernel set in use, chosen once: SWIFTGRAM_ISA's if the CPU runs it, else the best.
    public static let selected: ISA = {
        if let env = getenv("SWIFTGRAM_ISA"),
           let isa = supported.first(where: { $0.name == String(cString: env).lowercased() }) {
            return isa
        }
        return supported.first!
    }()
}

extension ISA {
    /// The selected ISA's name as a static C string (for the ABI).
    public static let selectedName: UnsafePointer<CChar> = {
        let bytes = Array(selected.name.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        p.initialize(from: bytes, count: bytes.count)
        return UnsafePointer(p)
    }()
}
