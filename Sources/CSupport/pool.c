/* A small persistent thread pool for the engine's parallel loops.
 *
 * Why not Dispatch's concurrentPerform: after a short idle its workers are parked and the
 * next call often runs its iterations on the calling thread alone (docs/performance/engine.md,
 * "Thread pool"). Here workers sleep on a condition variable and are woken for each job;
 * the caller works too.
 *
 * One job at a time: a caller that finds the pool busy (another Python thread, or a
 * nested call) runs its iterations itself. After fork() the child starts with an empty
 * pool (its threads did not survive the fork).
 */
#define _GNU_SOURCE /* sched_getcpu, CPU_SET: a helper steps off its caller's CPU */
#include "sg_cpu.h"
#include "sg_executor.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define MAX_WORKERS 255
#define SPIN_ROUNDS 20000 /* a caller's wait for its helpers' last items: 0.1-0.6 ms of pauses by CPU */
#define LINGER_NS 150000  /* how long an idle helper stays awake for the next job */
#define YIELD_EVERY 64    /* pauses between an idle helper's yields (a few microseconds) */

static inline void sg_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

void sg_spin_lock(int64_t *word) {
    for (int spin = 0;; spin++) {
        int64_t expected = 0;
        if (__atomic_compare_exchange_n(word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
        if (spin < 1000) sg_cpu_relax(); else sched_yield();
    }
}

void sg_spin_unlock(int64_t *word) { __atomic_store_n(word, 0, __ATOMIC_RELEASE); }

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;   /* held by the caller running a job */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;  /* guards the fields below */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static int workers = 0;          /* threads started */
static int wanted = 0;           /* workers taking part in the current job */
static _Atomic uint64_t generation = 0;  /* bumped for every job */
static sg_pool_fn job_fn = 0;
static void *job_ctx = 0;
static int64_t job_n = 0;
/* The current job's tag (low 32 bits of its generation) above the next item to hand out:
 * a worker that wakes after its job has ended finds another tag and takes nothing. */
static _Atomic uint64_t cursor = 0;
static _Atomic int64_t done = 0;  /* items of the current job completed */
static int job_cpu = -1;          /* the CPU the current job's caller runs on (-1: unknown) */

#if defined(__linux__)
typedef cpu_set_t cpu_mask;
#else
typedef char cpu_mask; /* no CPU sets: a helper never steps aside */
#endif

/* A helper woken onto its caller's CPU shares that CPU with the caller while the others
 * may hold only another library's spinning, yielding threads (OpenBLAS keeps its workers
 * spinning 0.1-0.2 s after a call): the job would run at one CPU's speed. Such a helper
 * leaves that CPU for this job: its allowed CPUs minus the caller's until it is done,
 * then its own set again (`mask` keeps it). Returns whether it moved. */
static int step_aside(int caller_cpu, cpu_mask *mask) {
#if defined(__linux__)
    if (caller_cpu < 0 || sched_getcpu() != caller_cpu) return 0;
    if (sched_getaffinity(0, sizeof *mask, mask) != 0 || !CPU_ISSET(caller_cpu, mask) || CPU_COUNT(mask) < 2)
        return 0;
    cpu_set_t others = *mask;
    CPU_CLR(caller_cpu, &others);
    return sched_setaffinity(0, sizeof others, &others) == 0;
#else
    (void)caller_cpu;
    (void)mask;
    return 0;
#endif
}

static void step_back(cpu_mask *saved) {
#if defined(__linux__)
    sched_setaffinity(0, sizeof *saved, saved);
#else
    (void)saved;
#endif
}

/* Items are handed out one at a time, so a thread that wakes late simply takes fewer, and
 * the caller waits only for the items taken, never for a helper still waking (on a virtual
 * CPU the host has parked, that can take a scheduler tick; docs/performance/engine.md). */
static void run_items(uint32_t tag, sg_pool_fn fn, void *ctx, int64_t n, int worker) {
    for (;;) {
        uint64_t c = atomic_load(&cursor);
        do {
            if ((uint32_t)(c >> 32) != tag || (int64_t)(c & 0xffffffffu) >= n) return;
        } while (!atomic_compare_exchange_weak(&cursor, &c, c + 1));
        fn(ctx, (int64_t)(c & 0xffffffffu), worker);
        if (atomic_fetch_add(&done, 1) + 1 == n) {
            pthread_mutex_lock(&state_lock);
            pthread_cond_signal(&finished);
            pthread_mutex_unlock(&state_lock);
        }
    }
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Stay awake briefly after a job (until job `seen` is no longer the latest, or LINGER_NS):
 * calls often come back to back, and waking a sleeping thread (on a virtual CPU the host
 * may have parked) costs more than the wait. The wait yields every few microseconds, so
 * another library's thread queued on this CPU (torch's or OpenBLAS's next call) runs at
 * once instead of after a scheduler tick (docs/performance/threads.md, "Spin"). */
static void linger(uint64_t seen) {
    uint64_t start = now_ns();
    for (int spin = 1; atomic_load(&generation) == seen; spin++) {
        if (spin % YIELD_EVERY != 0) {
            sg_cpu_relax();
        } else {
            if (now_ns() - start > LINGER_NS) return;
            sched_yield();
        }
    }
}

static void *worker_main(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&state_lock);
    for (;;) {
        while (generation == seen || id >= wanted) {
            if (generation != seen) seen = generation;  /* a job without us */
            pthread_cond_wait(&wake, &state_lock);
        }
        seen = generation;
        sg_pool_fn fn = job_fn;
        void *ctx = job_ctx;
        int64_t n = job_n;
        int caller_cpu = job_cpu;
        pthread_mutex_unlock(&state_lock);
        cpu_mask saved;
        int moved = step_aside(caller_cpu, &saved);
        run_items((uint32_t)seen, fn, ctx, n, id + 1);
        if (moved) step_back(&saved);
        linger(seen);
        pthread_mutex_lock(&state_lock);
    }
    return 0;
}

static void reset_after_fork(void) {
    pthread_mutex_init(&job_lock, 0);
    pthread_mutex_init(&state_lock, 0);
    pthread_cond_init(&wake, 0);
    pthread_cond_init(&finished, 0);
    workers = 0;
    wanted = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(0, 0, reset_after_fork); }

/* A loop on a lent pool (sg_executor.h): heap state, freed by whoever leaves it last,
 * since a task may start after the loop has ended. */
typedef struct {
    _Atomic int64_t next;  /* next item to hand out */
    _Atomic int64_t done;  /* items completed */
    _Atomic int refs;      /* the caller and every scheduled task */
    _Atomic int workers;   /* worker ids handed out (the caller is 0) */
    sg_pool_fn fn;
    void *ctx;
    int64_t n;
} lent_job;

static _Thread_local const sg_executor *thread_executor = 0;

const sg_executor *sg_pool_use_executor(const sg_executor *executor) {
    const sg_executor *previous = thread_executor;
    thread_executor = executor;
    return previous;
}

static void lent_items(lent_job *job, int worker) {
    for (int64_t i; (i = atomic_fetch_add(&job->next, 1)) < job->n;) {
        job->fn(job->ctx, i, worker);
        atomic_fetch_add(&job->done, 1);
    }
}

static void lent_leave(lent_job *job) {
    if (atomic_fetch_sub(&job->refs, 1) == 1) free(job);
}

static void lent_task(void *data) {
    lent_job *job = data;
    lent_items(job, atomic_fetch_add(&job->workers, 1));
    lent_leave(job);
}

/* A fork-join pool's body i: worker i takes items (ids are the bodies' indices). */
static void lent_body(void *data, int64_t i) {
    lent_items(data, (int)i);
}

static void run_lent(const sg_executor *e, int64_t n, int helpers, sg_pool_fn fn, void *ctx) {
    if (e->fork_join) {
        lent_job job;
        atomic_init(&job.next, 0);
        atomic_init(&job.done, 0);
        job.fn = fn;
        job.ctx = ctx;
        job.n = n;
        /* If the pool fails, or returns before all items ran, the caller takes the rest. */
        if (e->fork_join(e->pool, helpers + 1, lent_body, &job) != 0 || atomic_load(&job.done) < n)
            lent_items(&job, 0);
        return;
    }
    lent_job *job = malloc(sizeof *job);
    if (!job) {
        for (int64_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    atomic_init(&job->next, 0);
    atomic_init(&job->done, 0);
    atomic_init(&job->refs, 1 + helpers);
    atomic_init(&job->workers, 1);
    job->fn = fn;
    job->ctx = ctx;
    job->n = n;
    for (int h = 0; h < helpers; h++)
        if (e->schedule(e->pool, lent_task, job) != 0) atomic_fetch_sub(&job->refs, 1);
    lent_items(job, 0);
    /* Wait for the items helpers took (they are finishing them), never for a helper to start. */
    for (int spin = 0; atomic_load(&job->done) < n; spin++) {
        if (spin < SPIN_ROUNDS) sg_cpu_relax();
        else sched_yield();
    }
    lent_leave(job);
}

void sg_parallel_for(int64_t n, int threads, sg_pool_fn fn, void *ctx) {
    if (n <= 0) return;
    int helpers = threads - 1;
    if (helpers > n - 1) helpers = (int)(n - 1);
    if (helpers > MAX_WORKERS) helpers = MAX_WORKERS;
    const sg_executor *lent = thread_executor;
    if (lent && helpers > 0) {
        if (helpers > lent->threads) helpers = (int)lent->threads;
        run_lent(lent, n, helpers, fn, ctx);
        return;
    }
    if (helpers <= 0 || n > (int64_t)UINT32_MAX || pthread_mutex_trylock(&job_lock) != 0) {
        for (int64_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&state_lock);
    while (workers < helpers) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)workers) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) break;
        workers++;
    }
    if (helpers > workers) helpers = workers;
    job_fn = fn;
    job_ctx = ctx;
    job_n = n;
    wanted = helpers;
#if defined(__linux__)
    job_cpu = sched_getcpu();
#endif
    uint32_t tag = (uint32_t)++generation;
    atomic_store(&done, 0);
    atomic_store(&cursor, (uint64_t)tag << 32);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&state_lock);

    run_items(tag, fn, ctx, n, 0);

    /* The helpers are usually finishing their last items: wait for them spinning, since
     * a caller put to sleep is woken only after the host reschedules its virtual CPU. */
    for (int spin = 0; spin < SPIN_ROUNDS && atomic_load(&done) < n; spin++) sg_cpu_relax();
    pthread_mutex_lock(&state_lock);
    while (atomic_load(&done) < n) pthread_cond_wait(&finished, &state_lock);
    wanted = 0;
    pthread_mutex_unlock(&state_lock);
    pthread_mutex_unlock(&job_lock);
}
