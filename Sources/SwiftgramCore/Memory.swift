// Allocation that reports failure instead of trapping (Swift's allocate() aborts on OOM,
// which would kill the Python interpreter).
#if canImport(Glibc)
import Glibc
#endif

/// 64-byte aligned buffer of `count` elements, or a MemoryError.
func allocate<T>(_: T.Type, count: Int, what: String) throws(EinsumError) -> UnsafeMutablePointer<T> {
    let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
    if overflow {
        throw EinsumError(.memory, "einsum: \(what) of \(count) elements is too large to allocate")
    }
    var raw: UnsafeMutableRawPointer? = nil
    guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
        throw EinsumError(.memory, "einsum: could not allocate \(bytes) bytes for \(what)")
    }
    return raw.bindMemory(to: T.self, capacity: max(count, 1))
}

func deallocate<T>(_ p: UnsafeMutablePointer<T>?) {
    free(p)
}
