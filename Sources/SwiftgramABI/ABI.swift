// @_cdecl entry points (declared in swiftgram.h). They validate what C hands over, call the
// core, and turn every EinsumError into an error code plus message: nothing here traps.
import CSupport
import SwiftgramCore

/// Copies `message` into the caller's buffer, truncated and NUL-terminated.
private func report(_ e: EinsumError, _ err: UnsafeMutablePointer<CChar>?, _ errlen: Int64) -> Int32 {
    if let err, errlen > 0 {
        let bytes = Array(e.message.utf8.prefix(Int(errlen) - 1))
        for (i, b) in bytes.enumerated() { err[i] = CChar(bitPattern: b) }
        err[bytes.count] = 0
    }
    return e.kind.code
}

private func plan(_ p: UnsafeRawPointer) -> Plan {
    Unmanaged<Plan>.fromOpaque(p).takeUnretainedValue()
}

@_cdecl("sg_plan_create")
public func sg_plan_create(
    _ subscripts: UnsafePointer<CChar>?, _ nops: Int64, _ ndims: UnsafePointer<Int64>?,
    _ shapes: UnsafePointer<Int64>?, _ strategy: Int32, _ path: UnsafePointer<Int64>?,
    _ pathLen: Int64, _ memoryLimit: Double, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    _ err: UnsafeMutablePointer<CChar>?, _ errlen: Int64
) -> Int32 {
    do throws(EinsumError) {
        guard let subscripts, let out, nops >= 0, nops == 0 || (ndims != nil && shapes != nil) else {
            throw .value("einsum: invalid arguments to sg_plan_create")
        }
        var shapeList: [[Int]] = []
        var at = 0
        for k in 0..<Int(nops) {
            let nd = Int(ndims![k])
            if nd < 0 || nd > 64 { throw .value("einsum: operand \(k) has \(nd) dimensions (at most 64 are supported)") }
            shapeList.append((0..<nd).map { Int(shapes![at + $0]) })
            at += nd
        }
        let strat: PathStrategy
        if strategy == PathStrategy.explicitCode {
            var steps: [[Int]] = []
            var i = 0
            while i < Int(pathLen) {
                guard let path else { throw .value("einsum path: missing path data") }
                let n = Int(path[i])
                if n < 0 || i + 1 + n > Int(pathLen) { throw .value("einsum path: malformed path data") }
                steps.append((0..<n).map { Int(path[i + 1 + $0]) })
                i += 1 + n
            }
            strat = .explicit(steps)
        } else if let named = PathStrategy(code: strategy) {
            strat = named
        } else {
            throw .value("einsum: unknown path strategy \(strategy)")
        }
        let text = String(cString: subscripts)
        let p = try Plan(subscripts: text, shapes: shapeList, strategy: strat,
                         memoryLimit: memoryLimit < 0 ? nil : memoryLimit)
        out.pointee = Unmanaged.passRetained(p).toOpaque()
        return 0
    } catch {
        return report(error, err, errlen)
    }
}

@_cdecl("sg_parse")
public func sg_parse(
    _ subscripts: UnsafePointer<CChar>?, _ nops: Int64, _ ndims: UnsafePointer<Int64>?,
    _ shapes: UnsafePointer<Int64>?, _ inLabels: UnsafeMutablePointer<Int64>?,
    _ outLabels: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int64>?,
    _ labelSizes: UnsafeMutablePointer<Int64>?, _ err: UnsafeMutablePointer<CChar>?, _ errlen: Int64
) -> Int32 {
    do throws(EinsumError) {
        guard let subscripts, let inLabels, let outLabels, let outNdim, nops >= 0, nops == 0 || ndims != nil,
              (shapes == nil) == (labelSizes == nil) else {
            throw .value("einsum: invalid arguments to sg_parse")
        }
        let ranks = (0..<Int(nops)).map { Int(ndims![$0]) }
        if ranks.contains(where: { $0 < 0 || $0 > 64 }) { throw .value("einsum: operands have at most 64 dimensions") }
        let s = try parseSubscripts(String(cString: subscripts), ndims: ranks)
        if s.output.count > 128 { throw .value("einsum: the output would have more than 128 dimensions") }
        if let shapes, let labelSizes {
            var at = 0
            let dims = ranks.map { r in defer { at += r }; return (at..<at + r).map { Int(shapes[$0]) } }
            for (l, size) in try SwiftgramCore.labelSizes(s, shapes: dims, unknown: true).enumerated() {
                labelSizes[l] = Int64(size)
            }
        }
        for (i, l) in s.inputs.joined().enumerated() { inLabels[i] = Int64(l) }
        for (i, l) in s.output.enumerated() { outLabels[i] = Int64(l) }
        outNdim.pointee = Int64(s.output.count)
        return 0
    } catch {
        return report(error, err, errlen)
    }
}

@_cdecl("sg_plan_destroy")
public func sg_plan_destroy(_ p: UnsafeMutableRawPointer?) {
    if let p { Unmanaged<Plan>.fromOpaque(p).release() }
}

@_cdecl("sg_plan_nops")
public func sg_plan_nops(_ p: UnsafeRawPointer) -> Int64 {
    Int64(plan(p).shapes.count)
}

@_cdecl("sg_plan_operand_ndim")
public func sg_plan_operand_ndim(_ p: UnsafeRawPointer, _ k: Int64) -> Int64 {
    let shapes = plan(p).shapes
    return k >= 0 && k < shapes.count ? Int64(shapes[Int(k)].count) : -1
}

@_cdecl("sg_plan_output_ndim")
public func sg_plan_output_ndim(_ p: UnsafeRawPointer) -> Int64 {
    Int64(plan(p).outputShape.count)
}

@_cdecl("sg_plan_output_shape")
public func sg_plan_output_shape(_ p: UnsafeRawPointer, _ shape: UnsafeMutablePointer<Int64>) {
    for (i, d) in plan(p).outputShape.enumerated() { shape[i] = Int64(d) }
}

@_cdecl("sg_plan_is_view")
public func sg_plan_is_view(_ p: UnsafeRawPointer) -> Int32 {
    plan(p).isView ? 1 : 0
}

@_cdecl("sg_plan_ends_in_shared_contraction")
public func sg_plan_ends_in_shared_contraction(_ p: UnsafeRawPointer) -> Int32 {
    plan(p).endsInSharedContraction ? 1 : 0
}

@_cdecl("sg_plan_view_strides")
public func sg_plan_view_strides(_ p: UnsafeRawPointer, _ strides: UnsafePointer<Int64>,
                                 _ out: UnsafeMutablePointer<Int64>) {
    let pl = plan(p)
    let s = (0..<pl.shapes[0].count).map { Int(strides[$0]) }
    for (i, v) in pl.viewStrides(operandStrides: s).enumerated() { out[i] = Int64(v) }
}

@_cdecl("sg_plan_output_order")
public func sg_plan_output_order(_ p: UnsafeRawPointer, _ strides: UnsafePointer<Int64>?,
                                 _ out: UnsafeMutablePointer<Int64>) {
    let pl = plan(p)
    let s = (0..<pl.operandStrideCount).map { Int(strides![$0]) }
    for (i, axis) in pl.outputOrder(operandStrides: s).enumerated() { out[i] = Int64(axis) }
}

@_cdecl("sg_plan_path")
public func sg_plan_path(_ p: UnsafeRawPointer, _ out: UnsafeMutablePointer<Int64>?, _ cap: Int64) -> Int64 {
    var flat: [Int64] = []
    for step in plan(p).path { flat.append(Int64(step.count)); flat += step.map { Int64($0) } }
    if let out { for (i, v) in flat.prefix(Int(max(cap, 0))).enumerated() { out[i] = v } }
    return Int64(flat.count)
}

@_cdecl("sg_plan_report")
public func sg_plan_report(_ p: UnsafeRawPointer, _ out: UnsafeMutablePointer<CChar>?, _ cap: Int64) -> Int64 {
    copyText(plan(p).report, out, cap)
}

@_cdecl("sg_config_report")
public func sg_config_report(_ out: UnsafeMutablePointer<CChar>?, _ cap: Int64) -> Int64 {
    copyText(configurationReport(), out, cap)
}

/// Writes text, truncated to cap - 1 bytes and NUL-terminated; returns the length it needs
/// with the NUL.
private func copyText(_ text: String, _ out: UnsafeMutablePointer<CChar>?, _ cap: Int64) -> Int64 {
    let bytes = Array(text.utf8)
    if let out, cap > 0 {
        let n = min(bytes.count, Int(cap) - 1)
        for i in 0..<n { out[i] = CChar(bitPattern: bytes[i]) }
        out[n] = 0
    }
    return Int64(bytes.count + 1)
}

@_cdecl("sg_plan_execute")
public func sg_plan_execute(
    _ p: UnsafeRawPointer?, _ dtype: Int32, _ data: UnsafePointer<UnsafeRawPointer?>?,
    _ shapes: UnsafePointer<Int64>?, _ strides: UnsafePointer<Int64>?, _ outData: UnsafeMutableRawPointer?,
    _ outShape: UnsafePointer<Int64>?, _ outStrides: UnsafePointer<Int64>?,
    _ alpha: Double, _ accumulate: Int32, _ err: UnsafeMutablePointer<CChar>?, _ errlen: Int64
) -> Int32 {
    execute(p, dtype, nil, data, shapes, strides, outData, outShape, outStrides, alpha, accumulate, err, errlen)
}

@_cdecl("sg_plan_execute_typed")
public func sg_plan_execute_typed(
    _ executor: UnsafePointer<sg_executor>?, _ p: UnsafeRawPointer?, _ dtype: Int32, _ operandTypes: UnsafePointer<Int32>?,
    _ data: UnsafePointer<UnsafeRawPointer?>?, _ shapes: UnsafePointer<Int64>?, _ strides: UnsafePointer<Int64>?,
    _ outData: UnsafeMutableRawPointer?, _ outShape: UnsafePointer<Int64>?, _ outStrides: UnsafePointer<Int64>?,
    _ alpha: Double, _ accumulate: Int32, _ err: UnsafeMutablePointer<CChar>?, _ errlen: Int64
) -> Int32 {
    let previous = sg_pool_use_executor(executor)
    defer { _ = sg_pool_use_executor(previous) }
    return execute(p, dtype, operandTypes, data, shapes, strides, outData, outShape, outStrides, alpha, accumulate, err, errlen)
}

@_cdecl("sg_dtype_reads")
public func sg_dtype_reads(_ dtype: Int32, _ source: Int32) -> Int32 {
    guard let t = DType(code: dtype), let s = DType(code: source) else { return 0 }
    return t.reads(s) ? 1 : 0
}

/// The checks and the run behind every sg_plan_execute* entry.
private func execute(
    _ p: UnsafeRawPointer?, _ dtype: Int32, _ operandTypes: UnsafePointer<Int32>?, _ data: UnsafePointer<UnsafeRawPointer?>?,
    _ shapes: UnsafePointer<Int64>?, _ strides: UnsafePointer<Int64>?, _ outData: UnsafeMutableRawPointer?,
    _ outShape: UnsafePointer<Int64>?, _ outStrides: UnsafePointer<Int64>?,
    _ alpha: Double, _ accumulate: Int32, _ err: UnsafeMutablePointer<CChar>?, _ errlen: Int64
) -> Int32 {
    do throws(EinsumError) {
        guard let p, let outData else { throw .value("einsum: invalid arguments to sg_plan_execute") }
        let pl = plan(p)
        guard let dt = DType(code: dtype) else { throw EinsumError(.type, "einsum: unsupported dtype code \(dtype)") }
        if alpha != 1, dt.isIntegerOrBool {
            throw EinsumError(.type, "einsum: a scale factor needs a floating or complex dtype, not \(dt.name)")
        }
        // Shapes are compared in place: this path allocates nothing (tiny calls stay cheap).
        guard let data else { throw .value("einsum: missing operand data pointers") }
        var at = 0
        for k in 0..<pl.shapes.count {
            if data[k] == nil { throw .value("einsum: operand \(k) has no data pointer") }
            let nd = pl.shapes[k].count
            guard nd == 0 || (strides != nil && shapes != nil) else { throw .value("einsum: missing strides") }
            for d in 0..<nd where Int(shapes![at + d]) != pl.shapes[k][d] {
                let shape = (0..<nd).map { Int(shapes![at + $0]) }
                throw .value("einsum: operand \(k) has shape \(shape) but the plan was made for \(pl.shapes[k])")
            }
            at += nd
        }
        let ond = pl.outputShape.count
        guard ond == 0 || (outStrides != nil && outShape != nil) else { throw .value("einsum: missing output strides") }
        for d in 0..<ond where Int(outShape![d]) != pl.outputShape[d] {
            let oshape = (0..<ond).map { Int(outShape![$0]) }
            throw .value("einsum: output has shape \(oshape) but the result has shape \(pl.outputShape)")
        }
        try pl.execute(dtype: dt, operandTypes: operandTypes, data: data, strides: strides, output: outData,
                       outputStrides: outStrides, alpha: alpha, accumulate: accumulate != 0)
        return 0
    } catch {
        return report(error, err, errlen)
    }
}

@_cdecl("sg_plan_execute_on")
public func sg_plan_execute_on(
    _ executor: UnsafePointer<sg_executor>?, _ p: UnsafeRawPointer?, _ dtype: Int32,
    _ data: UnsafePointer<UnsafeRawPointer?>?, _ shapes: UnsafePointer<Int64>?, _ strides: UnsafePointer<Int64>?,
    _ outData: UnsafeMutableRawPointer?, _ outShape: UnsafePointer<Int64>?, _ outStrides: UnsafePointer<Int64>?,
    _ alpha: Double, _ accumulate: Int32, _ err: UnsafeMutablePointer<CChar>?, _ errlen: Int64
) -> Int32 {
    sg_plan_execute_typed(executor, p, dtype, nil, data, shapes, strides, outData, outShape, outStrides, alpha, accumulate,
                          err, errlen)
}

@_cdecl("sg_set_num_threads")
public func sg_set_num_threads(_ n: Int64) {
    Threads.count = Int(clamping: n)
}

@_cdecl("sg_get_num_threads")
public func sg_get_num_threads() -> Int64 {
    Int64(Threads.count)
}

@_cdecl("sg_isa_name")
public func sg_isa_name() -> UnsafePointer<CChar> {
    ISA.selectedName
}
