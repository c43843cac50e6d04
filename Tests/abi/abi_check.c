/* A C program that uses swiftgram's C ABI exactly as a framework op would: through
 * swiftgram.h, linked against libswiftgram_core.so. Each check compares with a naive loop
 * or with the header's documented contract; it prints one line per failure and exits 1 if
 * any failed. Run by Tests/python/test_c_abi.py. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftgram.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
                                             printf(__VA_ARGS__); printf("\n"); } } while (0)

/* 'ij,jk->ik' in float64, the first operand read through transposed strides, scaled. */
static void check_matmul_strided(void) {
    enum { I = 5, J = 7, K = 3 };
    double at[J][I], b[J][K], out[I][K], expect[I][K];
    for (int j = 0; j < J; j++) {
        for (int i = 0; i < I; i++) at[j][i] = 0.25 * (i + 1) - 0.5 * j;
        for (int k = 0; k < K; k++) b[j][k] = (double)(j * K + k) / 7.0;
    }
    const double alpha = 0.5;
    for (int i = 0; i < I; i++)
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (int j = 0; j < J; j++) s += at[j][i] * b[j][k];
            expect[i][k] = alpha * s;
        }
    int64_t ndims[2] = {2, 2}, shapes[4] = {I, J, J, K};
    char err[256];
    void *plan = NULL;
    int32_t rc = sg_plan_create("ij,jk->ik", 2, ndims, shapes, SG_PATH_GREEDY, NULL, 0, -1, &plan,
                                err, sizeof err);
    CHECK(rc == SG_OK && plan, "plan_create: %d %s", rc, err);
    if (!plan) return;
    CHECK(sg_plan_nops(plan) == 2 && sg_plan_operand_ndim(plan, 1) == 2, "operand count / rank");
    int64_t oshape[2] = {0, 0};
    CHECK(sg_plan_output_ndim(plan) == 2, "output rank");
    sg_plan_output_shape(plan, oshape);
    CHECK(oshape[0] == I && oshape[1] == K, "output shape %lld x %lld", (long long)oshape[0], (long long)oshape[1]);
    CHECK(!sg_plan_is_view(plan), "a product is not a view");

    const void *data[2] = {at, b};
    int64_t strides[4] = {1, I, K, 1};  /* operand 0 is at transposed: (i, j) at j*I + i */
    int64_t out_strides[2] = {K, 1};
    rc = sg_plan_execute(plan, SG_FLOAT64, data, shapes, strides, out, oshape, out_strides, alpha, 0,
                         err, sizeof err);
    CHECK(rc == SG_OK, "execute: %d %s", rc, err);
    double worst = 0;
    for (int i = 0; i < I; i++)
        for (int k = 0; k < K; k++) worst = fmax(worst, fabs(out[i][k] - expect[i][k]));
    CHECK(worst < 1e-12, "matmul differs from the naive loop by %g", worst);

    /* A shape other than the planned one is an error, never an out-of-bounds read. */
    int64_t wrong[4] = {I, J + 1, J + 1, K};
    rc = sg_plan_execute(plan, SG_FLOAT64, data, wrong, strides, out, oshape, out_strides, 1.0, 0,
                         err, sizeof err);
    CHECK(rc == SG_ERR_VALUE && strlen(err) > 0, "shape mismatch: rc %d, message '%s'", rc, err);

    /* The path, as sg_plan_create takes it: one tuple (0, 1). */
    int64_t path[8];
    int64_t n = sg_plan_path(plan, path, 8);
    CHECK(n == 3 && path[0] == 2 && path[1] == 0 && path[2] == 1, "path length %lld", (long long)n);
    /* The report: its length with the NUL, written truncated to the cap. */
    int64_t need = sg_plan_report(plan, NULL, 0);
    char report[4096];
    CHECK(need > 1 && need <= (int64_t)sizeof report, "report length %lld", (long long)need);
    sg_plan_report(plan, report, sizeof report);
    CHECK(strstr(report, "ij,jk->ik") != NULL, "report names the contraction: %s", report);
    sg_plan_destroy(plan);
}

/* Integer products are exact; int32 'ij->j' against a loop. */
static void check_int32_sum(void) {
    int32_t a[4][6], out[6], expect[6] = {0};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) { a[i][j] = 1000 * i - 7 * j; expect[j] += a[i][j]; }
    int64_t ndims[1] = {2}, shapes[2] = {4, 6}, strides[2] = {6, 1}, oshape[1] = {6}, ostrides[1] = {1};
    char err[256];
    void *plan = NULL;
    int32_t rc = sg_plan_create("ij->j", 1, ndims, shapes, SG_PATH_LEFT_TO_RIGHT, NULL, 0, -1, &plan,
                                err, sizeof err);
    CHECK(rc == SG_OK, "plan: %s", err);
    if (!plan) return;
    const void *data[1] = {a};
    rc = sg_plan_execute(plan, SG_INT32, data, shapes, strides, out, oshape, ostrides, 1.0, 0, err, sizeof err);
    CHECK(rc == SG_OK, "execute: %s", err);
    for (int j = 0; j < 6; j++) CHECK(out[j] == expect[j], "column %d: %d != %d", j, out[j], expect[j]);
    /* accumulate: the sum is added to what out holds. */
    rc = sg_plan_execute(plan, SG_INT32, data, shapes, strides, out, oshape, ostrides, 1.0, 1, err, sizeof err);
    CHECK(rc == SG_OK, "execute, accumulating: %s", err);
    for (int j = 0; j < 6; j++) CHECK(out[j] == 2 * expect[j], "accumulated column %d: %d != %d", j, out[j], 2 * expect[j]);
    /* alpha must be 1 for integers. */
    rc = sg_plan_execute(plan, SG_INT32, data, shapes, strides, out, oshape, ostrides, 2.0, 0, err, sizeof err);
    CHECK(rc != SG_OK && strlen(err) > 0, "integer alpha accepted");
    sg_plan_destroy(plan);
}

/* Mixed dtypes (sg_plan_execute_typed): 'i,i->i' of int16 and float32 computed in float32,
 * the int16 operand read converted; a float64 operand is not a safe cast to float32. */
static void check_mixed(void) {
    int16_t a[5] = {-3, 0, 7, 300, 12};
    float b[5] = {0.5f, 2, -1, 0.25f, 3}, out[5];
    double wide[5] = {0};
    int64_t ndims[2] = {1, 1}, shapes[2] = {5, 5}, strides[2] = {1, 1}, oshape[1] = {5}, ostrides[1] = {1};
    char err[256];
    void *plan = NULL;
    int32_t rc = sg_plan_create("i,i->i", 2, ndims, shapes, SG_PATH_LEFT_TO_RIGHT, NULL, 0, -1, &plan, err, sizeof err);
    CHECK(rc == SG_OK, "plan: %s", err);
    if (!plan) return;
    const void *data[2] = {a, b};
    int32_t types[2] = {SG_INT16, SG_FLOAT32};
    CHECK(sg_dtype_reads(SG_FLOAT32, SG_INT16) && !sg_dtype_reads(SG_FLOAT32, SG_FLOAT64), "sg_dtype_reads");
    rc = sg_plan_execute_typed(NULL, plan, SG_FLOAT32, types, data, shapes, strides, out, oshape, ostrides, 1.0, 0,
                               err, sizeof err);
    CHECK(rc == SG_OK, "execute: %s", err);
    for (int i = 0; i < 5; i++) CHECK(out[i] == (float)a[i] * b[i], "element %d: %g != %g", i, out[i], (float)a[i] * b[i]);
    const void *wide_data[2] = {a, wide};
    int32_t wide_types[2] = {SG_INT16, SG_FLOAT64};
    rc = sg_plan_execute_typed(NULL, plan, SG_FLOAT32, wide_types, wide_data, shapes, strides, out, oshape, ostrides,
                               1.0, 0, err, sizeof err);
    CHECK(rc == SG_ERR_TYPE && strstr(err, "operand 1") != NULL, "float64 read as float32: rc %d, '%s'", rc, err);
    sg_plan_destroy(plan);
}

/* A diagonal is a view: its strides come from the operand's. */
static void check_view(void) {
    int64_t ndims[1] = {2}, shapes[2] = {4, 4}, strides[2] = {4, 1}, out[1];
    char err[256];
    void *plan = NULL;
    CHECK(sg_plan_create("ii->i", 1, ndims, shapes, SG_PATH_LEFT_TO_RIGHT, NULL, 0, -1, &plan, err,
                         sizeof err) == SG_OK, "plan: %s", err);
    if (!plan) return;
    CHECK(sg_plan_is_view(plan), "a diagonal is a view");
    sg_plan_view_strides(plan, strides, out);
    CHECK(out[0] == 5, "diagonal stride %lld", (long long)out[0]);
    sg_plan_destroy(plan);
}

/* Errors: a kind and a NUL-terminated message that fits the buffer, however small. */
static void check_errors(void) {
    int64_t ndims[2] = {2, 2}, shapes[4] = {2, 3, 4, 5};
    char err[256];
    void *plan = (void *)&failures;  /* must not be touched... */
    int32_t rc = sg_plan_create("ij,jk->ik", 2, ndims, shapes, SG_PATH_GREEDY, NULL, 0, -1, &plan,
                                err, sizeof err);
    CHECK(rc == SG_ERR_VALUE, "size mismatch of label j: rc %d", rc);
    CHECK(strstr(err, "j") && strstr(err, "3") && strstr(err, "4"), "message names label and sizes: %s", err);
    rc = sg_plan_create("ij,jk->iq", 2, ndims, shapes, SG_PATH_GREEDY, NULL, 0, -1, &plan, err, sizeof err);
    CHECK(rc == SG_ERR_VALUE && strlen(err) > 0, "unknown output label: rc %d", rc);
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    rc = sg_plan_create("ij,jk", 2, ndims, shapes, SG_PATH_GREEDY, NULL, 0, -1, &plan, tiny, sizeof tiny);
    CHECK(rc == SG_ERR_VALUE && memchr(tiny, 0, sizeof tiny) != NULL, "truncated message not terminated");
    CHECK(plan == (void *)&failures, "plan written on failure");  /* ...on failure */
}

/* Parsing: labels per axis, '...' as broadcast labels; with static shapes (-1 unknown),
 * each label's size. */
static void check_parse(void) {
    int64_t ndims[2] = {3, 2}, in[5], out[128], out_ndim = -1, sizes[SG_MAX_LABELS];
    char err[256];
    int32_t rc = sg_parse("...i,ij", 2, ndims, NULL, in, out, &out_ndim, NULL, err, sizeof err);
    CHECK(rc == SG_OK, "parse: %s", err);
    /* Implicit output: the broadcast dims, then j (NumPy's rule). */
    CHECK(out_ndim == 3, "output rank %lld", (long long)out_ndim);
    /* Letters: 'A'-'Z' are labels 0-25, 'a'-'z' 26-51. */
    CHECK(in[2] == 34 && in[3] == 34 && in[4] == 35, "letters i, j are labels 34, 35");
    CHECK(in[0] >= 52 && in[1] >= 52 && out[0] == in[0] && out[1] == in[1] && out[2] == 35, "broadcast labels");

    /* 'bij,bjk' with b unknown in one operand and 1 in the other, k unknown: b and k stay
     * unknown, i and j take their known sizes. */
    int64_t ranks[2] = {3, 3}, shapes[6] = {-1, 4, 5, 1, 5, -1};
    rc = sg_parse("bij,bjk", 2, ranks, shapes, in, out, &out_ndim, sizes, err, sizeof err);
    CHECK(rc == SG_OK, "parse with shapes: %s", err);
    CHECK(sizes[27] == -1 && sizes[34] == 4 && sizes[35] == 5 && sizes[36] == -1, "static label sizes");
    int64_t clash[6] = {-1, 4, 5, 1, 6, -1};
    rc = sg_parse("bij,bjk", 2, ranks, clash, in, out, &out_ndim, sizes, err, sizeof err);
    CHECK(rc == SG_ERR_VALUE && strstr(err, "'j'"), "known sizes 5 and 6 of j: rc %d, '%s'", rc, err);
}

static void check_threads(void) {
    int64_t before = sg_get_num_threads();
    sg_set_num_threads(1);
    CHECK(sg_get_num_threads() == 1, "threads %lld", (long long)sg_get_num_threads());
    sg_set_num_threads(before);
    CHECK(sg_get_num_threads() == before, "threads restored");
    const char *isa = sg_isa_name();
    CHECK(isa && strlen(isa) > 0, "ISA name");
}

/* A lent pool (sg_plan_execute_on): one that runs each task on a new thread, and one
 * that refuses every task; both give the naive loop's result. */
static atomic_int tasks_scheduled;

typedef struct { void (*task)(void *); void *data; } pending;

static void *run_pending(void *arg) {
    pending p = *(pending *)arg;
    free(arg);
    p.task(p.data);
    return NULL;
}

static int schedule_on_new_thread(void *pool, void (*task)(void *), void *data) {
    (void)pool;
    pending *p = malloc(sizeof *p);
    pthread_t t;
    if (!p) return -1;
    *p = (pending){task, data};
    if (pthread_create(&t, NULL, run_pending, p) != 0) {
        free(p);
        return -1;
    }
    pthread_detach(t);
    atomic_fetch_add(&tasks_scheduled, 1);
    return 0;
}

static int refuse(void *pool, void (*task)(void *), void *data) {
    (void)pool, (void)task, (void)data;
    return -1;
}

/* A fork-join pool: bodies 1..n-1 on new threads, body 0 on the caller, then joined. */
static atomic_int bodies_run;

typedef struct { void (*body)(void *, int64_t); void *data; int64_t i; } body_call;

static void *run_body(void *arg) {
    body_call *c = arg;
    c->body(c->data, c->i);
    atomic_fetch_add(&bodies_run, 1);
    return NULL;
}

static int fork_join_on_threads(void *pool, int64_t n, void (*body)(void *, int64_t), void *data) {
    (void)pool;
    pthread_t threads[8];
    body_call calls[8];
    if (n > 8) n = 8;  /* fewer bodies than asked for: the caller's body takes the rest */
    for (int64_t i = 1; i < n; i++) {
        calls[i] = (body_call){body, data, i};
        if (pthread_create(&threads[i], NULL, run_body, &calls[i]) != 0) return -1;
    }
    calls[0] = (body_call){body, data, 0};
    run_body(&calls[0]);
    for (int64_t i = 1; i < n; i++) pthread_join(threads[i], NULL);
    return 0;
}

static int fork_join_fails(void *pool, int64_t n, void (*body)(void *, int64_t), void *data) {
    (void)pool, (void)n, (void)body, (void)data;
    return -1;
}

static void check_executor(void) {
    enum { N = 300 };
    static float a[N][N], b[N][N], out[N][N];
    static double expect[N][N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (float)((i * 7 + j * 3) % 11) - 5.0f;
            b[i][j] = (float)((i * 5 + j) % 13) * 0.25f;
        }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < N; k++) {
            double s = 0;
            for (int j = 0; j < N; j++) s += (double)a[i][j] * b[j][k];
            expect[i][k] = s;
        }
    int64_t ndims[2] = {2, 2}, shapes[4] = {N, N, N, N}, strides[4] = {N, 1, N, 1};
    int64_t oshape[2] = {N, N}, ostrides[2] = {N, 1};
    char err[256];
    void *plan = NULL;
    CHECK(sg_plan_create("ij,jk->ik", 2, ndims, shapes, SG_PATH_AUTO, NULL, 0, -1, &plan, err, sizeof err) == SG_OK,
          "plan: %s", err);
    if (!plan) return;
    int64_t before = sg_get_num_threads();
    sg_set_num_threads(4);
    sg_executor executors[4] = {{schedule_on_new_thread, NULL, NULL, 3}, {refuse, NULL, NULL, 3},
                                {NULL, fork_join_on_threads, NULL, 3}, {NULL, fork_join_fails, NULL, 3}};
    const void *data[2] = {a, b};
    for (int e = 0; e < 4; e++) {
        memset(out, 0, sizeof out);
        int32_t rc = sg_plan_execute_on(&executors[e], plan, SG_FLOAT32, data, shapes, strides, out, oshape, ostrides,
                                        1.0, 0, err, sizeof err);
        CHECK(rc == SG_OK, "execute_on: %s", err);
        double worst = 0;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N; k++) worst = fmax(worst, fabs(out[i][k] - expect[i][k]) / (1 + fabs(expect[i][k])));
        CHECK(worst < 1e-5, "executor %d: result differs from the naive loop by %g", e, worst);
    }
    CHECK(atomic_load(&tasks_scheduled) > 0, "no task was scheduled on the lent pool");
    CHECK(atomic_load(&bodies_run) > 1, "the fork-join pool ran %d bodies", atomic_load(&bodies_run));
    sg_set_num_threads(before);
    sg_plan_destroy(plan);
}

int main(void) {
    check_matmul_strided();
    check_int32_sum();
    check_mixed();
    check_view();
    check_errors();
    check_parse();
    check_threads();
    check_executor();
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
