// Work splitting over threads: the persistent pool in CSupport/pool.c.
import CSupport

public enum Threads {
    /// Threads the engine uses per call (SWIFTGRAM_NUM_THREADS / set_num_threads in Python).
    public static var count: Int {
        get { Int(sg_threads_get()) }
        set { sg_threads_set(Int32(clamping: newValue)) }
    }
}

/// Runs body(item, worker) for every item in 0..<n on up to `threads` threads; items are
/// handed out dynamically and `worker` (0..<threads, the caller is 0) names the thread's
/// scratch space.
func parallelFor(_ n: Int, threads: Int, _ body: (_ item: Int, _ worker: Int) -> Void) {
    if n <= 1 || threads <= 1 {
        for i in 0..<max(n, 0) { body(i, 0) }
        return
    }
    withoutActuallyEscaping(body) { body in
        var box = body
        withUnsafeMutablePointer(to: &box) { ctx in
            sg_parallel_for(Int64(n), Int32(clamping: threads), { ctx, i, worker in
                ctx!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(Int(i), Int(worker))
            }, ctx)
        }
    }
}
