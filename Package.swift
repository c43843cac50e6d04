// swift-tools-version:6.0
// swiftgram: einsum / tensor contraction core in Swift, exported over a C ABI.
//
// Targets, in data-flow order:
//   SwiftgramABI      @_cdecl entry points + hand-written C header (used by the Python shim)
//   SwiftgramCore     subscripts parsing, contraction planning, execution engine
//   Kernels*          register-blocked micro-kernels, one module per ISA so each is compiled
//                     with its own -march flags; chosen at run time from the CPU's features
//                     (KernelsAVX512BF16: AVX-512 with AVX512-BF16, bfloat16 only)
//   SwiftgramKernels  the generic micro-kernel source the ISA modules instantiate
//   CSupport          tiny C helpers Swift cannot express (cpuid feature checks)
import PackageDescription

// An ISA's -march flags apply on x86-64 only (the manifest is built for the machine that
// builds the package); elsewhere its module compiles portable code, and the ISA reports
// itself unsupported at run time (ISA.swift), so the package builds on aarch64 too.
func isa(_ name: String, _ march: String?, features: [String] = []) -> Target {
    #if arch(x86_64)
    let flags: [SwiftSetting] = march.map { [.unsafeFlags(["-Xcc", "-march=\($0)"] + features.flatMap { ["-Xcc", "-m\($0)"] })] } ?? []
    #else
    let flags: [SwiftSetting] = []
    #endif
    return .target(name: name, dependencies: ["SwiftgramKernels", "CSupport"], swiftSettings: flags)
}

let package = Package(
    name: "swiftgram",
    products: [
        .library(name: "SwiftgramABI", type: .static, targets: ["SwiftgramABI"]),
    ],
    targets: [
        .target(name: "CSupport"),
        .target(name: "SwiftgramKernels", dependencies: ["CSupport"]),
        isa("KernelsAVX512", "x86-64-v4"),
        isa("KernelsAVX512BF16", "x86-64-v4", features: ["avx512bf16"]),
        isa("KernelsAVX2", "x86-64-v3"),
        isa("KernelsPortable", nil),
        .target(
            name: "SwiftgramCore",
            dependencies: ["CSupport", "KernelsAVX512", "KernelsAVX512BF16", "KernelsAVX2", "KernelsPortable"]
        ),
        .target(
            name: "SwiftgramABI",
            dependencies: ["SwiftgramCore", "CSupport"],
            exclude: ["swiftgram.h"]
        ),
        .testTarget(name: "SwiftgramCoreTests", dependencies: ["SwiftgramCore"]),
    ],
    swiftLanguageModes: [.v5]
)
