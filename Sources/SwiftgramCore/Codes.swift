// The C ABI's codes (CSupport/include/sg_codes.h, their one definition) for the core's
// types: dtypes, error kinds and path strategies.
import CSupport

extension DType {
    /// The dtype with this ABI code (SG_*), if any.
    public init?(code: Int32) {
        guard let t = DType.allCases.first(where: { $0.code == code }) else { return nil }
        self = t
    }

    /// This dtype's ABI code.
    public var code: Int32 {
        let c: Int
        switch self {
        case .bool: c = Int(SG_BOOL)
        case .int8: c = Int(SG_INT8)
        case .int16: c = Int(SG_INT16)
        case .int32: c = Int(SG_INT32)
        case .int64: c = Int(SG_INT64)
        case .uint8: c = Int(SG_UINT8)
        case .uint16: c = Int(SG_UINT16)
        case .uint32: c = Int(SG_UINT32)
        case .uint64: c = Int(SG_UINT64)
        case .float16: c = Int(SG_FLOAT16)
        case .float32: c = Int(SG_FLOAT32)
        case .float64: c = Int(SG_FLOAT64)
        case .complex64: c = Int(SG_COMPLEX64)
        case .complex128: c = Int(SG_COMPLEX128)
        case .bfloat16: c = Int(SG_BFLOAT16)
        }
        return Int32(c)
    }
}

extension EinsumError.Kind {
    /// The error's ABI code (SG_ERR_*), which the shim maps to a Python exception.
    public var code: Int32 {
        switch self {
        case .value: return Int32(SG_ERR_VALUE)
        case .type: return Int32(SG_ERR_TYPE)
        case .memory: return Int32(SG_ERR_MEMORY)
        case .runtime: return Int32(SG_ERR_RUNTIME)
        }
    }
}

extension PathStrategy {
    /// SG_PATH_EXPLICIT: the path itself comes with the call.
    public static let explicitCode = Int32(SG_PATH_EXPLICIT)

    /// The named strategy with this ABI code (SG_PATH_*; not the explicit one), if any.
    public init?(code: Int32) {
        switch Int(code) {
        case Int(SG_PATH_LEFT_TO_RIGHT): self = .leftToRight
        case Int(SG_PATH_GREEDY): self = .greedy
        case Int(SG_PATH_OPTIMAL): self = .optimal
        case Int(SG_PATH_AUTO): self = .auto
        default: return nil
        }
    }
}
