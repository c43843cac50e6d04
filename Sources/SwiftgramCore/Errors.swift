/// Every failure the core can report. Nothing in the core traps on user input: entry points
/// validate and throw one of these, and the ABI turns it into a code plus message that the
/// Python shim raises as the matching exception type.
public struct EinsumError: Error, CustomStringConvertible {
    /// The kinds, and the Python exception each becomes (their ABI codes: Codes.swift).
    public enum Kind {
        case value    // ValueError: malformed subscripts, size conflicts, bad paths
        case type     // TypeError: unsupported dtype
        case memory   // MemoryError: sizes overflow or allocation failed
        case runtime  // RuntimeError: an explicit path that leaves operands uncontracted (NumPy's)
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public static func value(_ m: String) -> EinsumError { EinsumError(.value, m) }
    public var description: String { message }
}

/// Product of sizes, or nil on overflow (sizes come from user shapes; never trap).
@inlinable
func checkedProduct<S: Sequence>(_ xs: S) -> Int? where S.Element == Int {
    var p = 1
    for x in xs {
        let (r, o) = p.multipliedReportingOverflow(by: x)
        if o { return nil }
        p = r
    }
    return p
}
