// swift-tools-version:6.0
// swiftgram: einsum / tensor contraction core in Swift, exported over a C ABI.
//
// Targets, in data-flow order:
//   SwiftgramABI      @_cdecl entry points + hand-written C header (used by the Python shim)
//   SwiftgramCore     subscripts parsing, contraction planning, execution engine
//   Kernels*          register-blocked micro-kernels, one module per ISA so each is compiled
//                     with its own -march flags; chosen at run time from the CPU's features
//   SwiftgramKernels  the generic micro-kernel source the ISA modules instantiate
//   CSupport          tiny C helpers Swift cannot express (cpuid feature checks)
import PackageDescription

func isa(_ name: String, _ march: String?) -> Target {
    .target(
        name: name,
        dependencies: ["SwiftgramKernels"],
        swiftSettings: march.map { [.unsafeFlags(["-Xcc", "-march=\($0)"])] } ?? []
    )
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
        isa("KernelsAVX2", "x86-64-v3"),
        isa("KernelsPortable", nil),
        .target(
            name: "SwiftgramCore",
            dependencies: ["CSupport", "KernelsAVX512", "KernelsAVX2", "KernelsPortable"]
        ),
        .target(
            name: "SwiftgramABI",
            dependencies: ["SwiftgramCore"],
            exclude: ["swiftgram.h"]
        ),
        .testTarget(name: "SwiftgramCoreTests", dependencies: ["SwiftgramCore"]),
    ],
    swiftLanguageModes: [.v5]
)
