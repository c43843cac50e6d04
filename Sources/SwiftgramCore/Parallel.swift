// Work splitting over threads (Dispatch, no Foundation).
import CSupport
import Dispatch

public enum Threads {
    /// Threads the engine uses per call (SWIFTGRAM_NUM_THREADS / set_num_threads in Python).
    public static var count: Int {
        get { Int(sg_threads_get()) }
        set { sg_threads_set(Int32(clamping: newValue)) }
    }
}

/// Runs body(0..<n), concurrently when n > 1.
func parallelFor(_ n: Int, _ body: (Int) -> Void) {
    if n <= 1 {
        if n == 1 { body(0) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: n, execute: body)
}

/// A raw pointer that may cross into worker closures (each worker writes disjoint parts).
struct SendablePointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
}
