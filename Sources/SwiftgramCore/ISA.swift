// Run-time choice of the micro-kernel set from the CPU's features.
// SWIFTGRAM_ISA=avx512|avx2|portable forces a path (tests run each one); a forced path the
// CPU cannot run falls back to the best supported one instead of faulting.
import CSupport
import KernelsAVX2
import KernelsAVX512
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
    let check: () -> Bool

    /// Whether this CPU (and OS) can run the kernels.
    public var isSupported: Bool { check() }

    /// Every kernel set, best first: the engine takes the first one the CPU supports, and
    /// the tests run every supported one. Adding an ISA is one module and one line here.
    public static let registry: [ISA] = [
        ISA(name: "avx512", float32: float32KernelAVX512, float64: float64KernelAVX512,
            dot32: float32DotAVX512, dot64: float64DotAVX512, check: { sg_cpu_has_avx512() != 0 }),
        ISA(name: "avx2", float32: float32KernelAVX2, float64: float64KernelAVX2,
            dot32: float32DotAVX2, dot64: float64DotAVX2, check: { sg_cpu_has_avx2_fma() != 0 }),
        ISA(name: "portable", float32: float32KernelPortable, float64: float64KernelPortable,
            dot32: float32DotPortable, dot64: float64DotPortable, check: { true }),
    ]

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
