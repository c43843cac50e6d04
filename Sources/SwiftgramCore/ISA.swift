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

public struct ISA {
    public let name: String
    public let float32: Microkernel<Float>
    public let float64: Microkernel<Double>
    public let dot32: DotFunction<Float>
    public let dot64: DotFunction<Double>

    static let avx512 = ISA(name: "avx512", float32: float32KernelAVX512, float64: float64KernelAVX512,
                            dot32: float32DotAVX512, dot64: float64DotAVX512)
    static let avx2 = ISA(name: "avx2", float32: float32KernelAVX2, float64: float64KernelAVX2,
                          dot32: float32DotAVX2, dot64: float64DotAVX2)
    static let portable = ISA(name: "portable", float32: float32KernelPortable, float64: float64KernelPortable,
                              dot32: float32DotPortable, dot64: float64DotPortable)

    /// The kernel set in use, chosen once.
    public static let selected: ISA = {
        var supported: [ISA] = [portable]
        if sg_cpu_has_avx2_fma() != 0 { supported.append(avx2) }
        if sg_cpu_has_avx512() != 0 { supported.append(avx512) }
        if let env = getenv("SWIFTGRAM_ISA") {
            let want = String(cString: env).lowercased()
            if let isa = supported.first(where: { $0.name == want }) { return isa }
        }
        return supported.last!
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
