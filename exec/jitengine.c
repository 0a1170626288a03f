/* jitengine.c - kcompile, then LLVM in-process, then kfunc_run
 * (jitengine.h). */
#include "exec/jitengine.h"

#include <stdlib.h>
#include <time.h>

#include "lower/kcompile.h"
#include "exec/kfunc_run.h"
#include "target/llvm/llvm_jit.h"
#include "ir/timing.h"

struct JitEngine {
    KFunc *kf, *prep;
    LlvmJit *jit, *prep_jit;
    KFuncRunner run;
};

static double seconds(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void) { return seconds(CLOCK_MONOTONIC); }
static double cpu_now(void) { return seconds(CLOCK_THREAD_CPUTIME_ID); }

static JitEngine *build(const IrModule *m, int prepared, JitTimes *times, char *err, size_t errlen)
{
    JitTimes t = {0};
    JitEngine *e = calloc(1, sizeof *e);
    if (!e) {
        ir_errf(err, errlen, "out of memory");
        return NULL;
    }
    double t0 = now(), c0 = cpu_now();
    e->kf = prepared ? kcompile_prepared(m, "forward", &e->prep, err, errlen) : kcompile(m, "forward", err, errlen);
    if (!e->kf) goto fail;
    double t1 = now(), c1 = cpu_now();
    t.lower = t1 - t0;
    t.cpu.lower = c1 - c0;
    /* kcompile records lower, kfuse and memplan itself (ir/timing.h) */
    TimingMark tm = timing_start();
    e->jit = llvm_jit_new(err, errlen);
    if (!e->jit || llvm_jit_build(e->jit, e->kf, err, errlen)) goto fail;
    timing_stop(&tm, "LLVM IR build");
    double t2 = now(), c2 = cpu_now();
    t.build = t2 - t1;
    t.cpu.build = c2 - c1;
    tm = timing_start();
    if (llvm_jit_optimize(e->jit, err, errlen)) goto fail;
    timing_stop(&tm, "LLVM optimize");
    double t3 = now(), c3 = cpu_now();
    t.optimize = t3 - t2;
    t.cpu.optimize = c3 - c2;
    tm = timing_start();
    e->run.fn = llvm_jit_codegen(e->jit, err, errlen);
    if (!e->run.fn) goto fail;
    timing_stop(&tm, "LLVM codegen");
    t.codegen = now() - t3;
    t.cpu.codegen = cpu_now() - c3;
    /* the prepare function: a few runtime calls, its own small module */
    if (e->prep && !(e->prep_jit = llvm_jit_compile(e->prep, &e->run.prep_fn, err, errlen))) goto fail;
    e->run.prep = e->prep;
    e->run.engine = "jit";
    e->run.m = m;
    e->run.kf = e->kf;
    if (times) *times = t;
    return e;
fail:
    jitengine_free(e);
    return NULL;
}

JitEngine *jitengine_build(const IrModule *m, JitTimes *times, char *err, size_t errlen)
{
    return build(m, 0, times, err, errlen);
}

JitEngine *jitengine_build_prepared(const IrModule *m, JitTimes *times, char *err, size_t errlen)
{
    return build(m, 1, times, err, errlen);
}

void jitengine_keep_packs(JitEngine *e, const TensorMap *params) { kfunc_runner_keep_packs(&e->run, params); }

int jitengine_run(JitEngine *e, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs, char *err,
                  size_t errlen)
{
    return kfunc_run(&e->run, params, inputs, outputs, err, errlen);
}

void jitengine_free(JitEngine *e)
{
    if (!e) return;
    kfunc_runner_release(&e->run);
    llvm_jit_free(e->jit);
    llvm_jit_free(e->prep_jit);
    kfunc_free(e->kf);
    if (e->prep) kfunc_free(e->prep);
    free(e);
}
