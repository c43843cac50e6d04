// Label sets: the labels of an operand, a step or an output as one 128-bit mask, so paths
// compare and combine them in a few instructions.

/// A set of labels (ids below 128: 52 letters plus at most 64 broadcast dims).
public struct LabelSet: Hashable {
    public var bits: UInt128 = 0
    public init() {}
    public init<S: Sequence>(_ labels: S) where S.Element == Int {
        for l in labels { bits |= UInt128(1) << UInt128(l) }
    }
    public func contains(_ l: Int) -> Bool { bits & (UInt128(1) << UInt128(l)) != 0 }
    public var isEmpty: Bool { bits == 0 }
    public var count: Int { bits.nonzeroBitCount }
    public static func | (a: LabelSet, b: LabelSet) -> LabelSet { var r = a; r.bits |= b.bits; return r }
    public static func & (a: LabelSet, b: LabelSet) -> LabelSet { var r = a; r.bits &= b.bits; return r }
    public static func - (a: LabelSet, b: LabelSet) -> LabelSet { var r = a; r.bits &= ~b.bits; return r }
    public var labels: [Int] {
        var out: [Int] = []
        var b = bits
        while b != 0 {
            let l = b.trailingZeroBitCount
            out.append(l)
            b &= b - 1
        }
        return out
    }
}
