/* test_bind.c - checking weights and inputs against a module (ir/bind.c):
 * the sizes B and T_* read off the inputs, and the message for every kind
 * of wrong tensor. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "ir/bind.h"
#include "ir/ir.h"
#include "io/tensor.h"

#define DIMS(...) \
    (int64_t[]) { __VA_ARGS__ }
#define NDIMS(...) ((int)(sizeof(DIMS(__VA_ARGS__)) / sizeof(int64_t)))
#define TF(...)    ir_type(IR_F32, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__))
#define TI(...)    ir_type(IR_I64, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__))

/* A zeroed tensor; the binder only looks at dtypes and shapes. */
static void put(TensorMap *tm, const char *name, RtDType dt, int rank, const int64_t *shape)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, dt, rank, shape), 0);
    assert_int_equal(rt_map_put(tm, name, &t), 0);
}

/* model m: a dense layer and an embedding, parameters in state_dict order. */
static IrModule *params_model(void)
{
    IrModule *m = ir_module_new("m");
    IrInit z = {IR_INIT_ZERO, 0};
    ir_add_param(m, "h.weight_ih_l0", TF(24, 4), z);
    ir_add_param(m, "logits.bias", TF(5), z);
    return m;
}

static void test_params_ok(void **state)
{
    (void)state;
    IrModule *m = params_model();
    TensorMap w;
    char err[256] = "";
    rt_map_init(&w);
    put(&w, "logits.bias", RT_F64, 1, DIMS(5)); /* any order, F32 or F64 */
    put(&w, "h.weight_ih_l0", RT_F32, 2, DIMS(24, 4));
    assert_int_equal(ir_bind_params(m, &w, "w.safetensors", err, sizeof err), 0);
    rt_map_free(&w);
    ir_free(m);
}

static void test_params_errors(void **state)
{
    (void)state;
    IrModule *m = params_model();
    TensorMap w;
    char err[256];

    rt_map_init(&w);
    put(&w, "h.weight_ih_l0", RT_F32, 2, DIMS(24, 4));
    assert_int_equal(ir_bind_params(m, &w, "w.safetensors", err, sizeof err), -1);
    assert_string_equal(err, "w.safetensors: missing parameter 'logits.bias'");
    rt_map_free(&w);

    rt_map_init(&w);
    put(&w, "h.weight_ih_l0", RT_F32, 2, DIMS(24, 5));
    put(&w, "logits.bias", RT_F32, 1, DIMS(5));
    assert_int_equal(ir_bind_params(m, &w, "w.safetensors", err, sizeof err), -1);
    assert_string_equal(err, "w.safetensors: parameter 'h.weight_ih_l0' has shape [24, 5], the model needs [24, 4]");
    rt_map_free(&w);

    /* A rank mismatch is a shape mismatch too. */
    rt_map_init(&w);
    put(&w, "h.weight_ih_l0", RT_F32, 1, DIMS(96));
    put(&w, "logits.bias", RT_F32, 1, DIMS(5));
    assert_int_equal(ir_bind_params(m, &w, NULL, err, sizeof err), -1);
    assert_string_equal(err, "weights: parameter 'h.weight_ih_l0' has shape [96], the model needs [24, 4]");
    rt_map_free(&w);

    rt_map_init(&w);
    put(&w, "h.weight_ih_l0", RT_F32, 2, DIMS(24, 4));
    put(&w, "logits.bias", RT_I64, 1, DIMS(5));
    assert_int_equal(ir_bind_params(m, &w, "w.safetensors", err, sizeof err), -1);
    assert_string_equal(err, "w.safetensors: parameter 'logits.bias' has dtype I64, the model needs F32 or F64");
    rt_map_free(&w);

    rt_map_init(&w);
    put(&w, "h.weight_ih_l0", RT_F32, 2, DIMS(24, 4));
    put(&w, "foo", RT_F32, 1, DIMS(1));
    put(&w, "logits.bias", RT_F32, 1, DIMS(5));
    assert_int_equal(ir_bind_params(m, &w, "w.safetensors", err, sizeof err), -1);
    assert_string_equal(err, "w.safetensors: unexpected tensor 'foo' (not a parameter of model m)");
    rt_map_free(&w);
    ir_free(m);
}

/* An encoder-decoder shape: src [T_src, B, 4], tgt ids [T_tgt, B], and a
 * target [T_tgt, B] sharing the decoder's length. */
typedef struct {
    IrModule *m;
    int tsrc, ttgt;
} Ed;

static Ed ed_model(int64_t max)
{
    Ed e;
    e.m = ir_module_new("ed");
    e.tsrc = ir_add_sym(e.m, "T_src", max);
    e.ttgt = ir_add_sym(e.m, "T_tgt", max);
    ir_add_input(e.m, "src", TF(IR_DIM_SYM(e.tsrc), IR_DIM_B, 4));
    ir_add_input(e.m, "tgt", TI(IR_DIM_SYM(e.ttgt), IR_DIM_B));
    ir_add_target(e.m, "next", TI(IR_DIM_SYM(e.ttgt), IR_DIM_B));
    return e;
}

static void test_inputs_resolve_sizes(void **state)
{
    (void)state;
    Ed e = ed_model(4096);
    TensorMap in;
    int64_t sym[3];
    char err[256] = "";
    rt_map_init(&in);
    put(&in, "src", RT_F32, 3, DIMS(7, 2, 4));
    put(&in, "tgt", RT_I32, 2, DIMS(5, 2));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 0, err, sizeof err), 0);
    assert_int_equal(e.m->nsyms, 3);
    assert_int_equal(sym[IR_SYM_BATCH], 2);
    assert_int_equal(sym[e.tsrc], 7);
    assert_int_equal(sym[e.ttgt], 5);

    /* The target is needed now, and missing. */
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 1, err, sizeof err), -1);
    assert_string_equal(err, "missing target 'next' (ids [T_tgt, B])");

    /* Given with the decoder's length, it binds; with another, it is wrong. */
    put(&in, "next", RT_I64, 2, DIMS(5, 2));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 1, err, sizeof err), 0);
    put(&in, "next", RT_I64, 2, DIMS(6, 2));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "target 'next': dimension 0 (T_tgt) is 6, but T_tgt = 5 from input 'tgt'");
    rt_map_free(&in);
    ir_free(e.m);
}

static void test_inputs_errors(void **state)
{
    (void)state;
    Ed e = ed_model(6);
    TensorMap in;
    int64_t sym[3];
    char err[256];

    rt_map_init(&in);
    put(&in, "tgt", RT_I64, 2, DIMS(5, 2));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "missing input 'src' (floats [T_src, B, 4])");

    put(&in, "src", RT_F32, 2, DIMS(7, 2));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "input 'src': expected rank 3 [T_src, B, 4], got [7, 2]");

    put(&in, "src", RT_I32, 3, DIMS(6, 2, 4));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "input 'src': expected floats (F32 or F64), got I32");

    put(&in, "src", RT_F64, 3, DIMS(7, 2, 4));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "input 'src': T_src = 7 is above its declared maximum 6");

    put(&in, "src", RT_F64, 3, DIMS(0, 2, 4));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "input 'src': T_src = 0, it must be at least 1");

    put(&in, "src", RT_F64, 3, DIMS(6, 2, 4));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 0, err, sizeof err), 0); /* at the maximum: fine */

    put(&in, "source", RT_F64, 3, DIMS(6, 2, 4));
    assert_int_equal(ir_bind_inputs(e.m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "unknown input 'source': model ed has inputs src, tgt and targets next");
    rt_map_free(&in);
    ir_free(e.m);
}

/* Values no engine can compute with: a NaN or infinite float, named at
 * its step and batch, and an id out of the range of the op that reads it
 * (an embedding's rows, a cross_entropy's classes). */
static void test_input_values(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("v");
    int t = ir_add_sym(m, "T_ids", 0);
    IrInit z = {IR_INIT_ZERO, 0};
    IrValue *table = ir_add_param(m, "e.weight", TF(10, 3), z);
    IrValue *ids = ir_add_input(m, "ids", TI(IR_DIM_SYM(t), IR_DIM_B));
    ir_add_input(m, "x", TF(IR_DIM_B, 2));
    IrValue *e = ir_op2(m, m->body, IR_EMBEDDING, table, ids);
    assert_non_null(e);
    e->def->origin = "e: embedding";
    TensorMap in;
    int64_t sym[2];
    char err[256] = "";
    rt_map_init(&in);
    put(&in, "ids", RT_I64, 2, DIMS(4, 2));
    put(&in, "x", RT_F32, 2, DIMS(2, 2));
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), 0);

    ((int64_t *)rt_map_get(&in, "ids")->data)[2 * 3 + 1] = 10; /* step 3, batch 1 */
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "input 'ids': token id 10 at step 3, batch 1 [3, 1] is out of range [0, 10) in "
                             "embedding 'e: embedding'");
    ((int64_t *)rt_map_get(&in, "ids")->data)[2 * 3 + 1] = -1;
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "token id -1 at step 3, batch 1"));
    ((int64_t *)rt_map_get(&in, "ids")->data)[2 * 3 + 1] = 9;

    float *x = rt_map_get(&in, "x")->data;
    x[3] = NAN;
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "input 'x': the element at batch 1 [1, 1] is NaN; inputs must be finite numbers");
    x[3] = -INFINITY;
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err, "input 'x': the element at batch 1 [1, 1] is infinite; inputs must be finite numbers");
    x[3] = 1e30f;
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), 0);
    rt_map_free(&in);
    ir_free(m);
}

/* A long float input is scanned a block of 1024 floats at a time
 * (bind.c's first_nonfinite): a bad element is found in any block, in
 * the tail after the last whole block, and the first of two is named. */
static void test_input_values_long(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("v");
    int t = ir_add_sym(m, "T_x", 0);
    ir_add_input(m, "x", TF(IR_DIM_SYM(t), IR_DIM_B, 2));
    TensorMap in;
    int64_t sym[2];
    char err[256] = "";
    rt_map_init(&in);
    put(&in, "x", RT_F32, 3, DIMS(1100, 3, 2)); /* 6600 floats: 6 blocks and a tail of 456 */
    float *x = rt_map_get(&in, "x")->data;
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), 0);
    x[6599] = INFINITY; /* the tail's last element: step 1099, batch 2 */
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(err,
                        "input 'x': the element at step 1099, batch 2 [1099, 2, 1] is infinite; inputs must be finite "
                        "numbers");
    x[3001] = NAN; /* in the third block, before the other: named first */
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(
        err, "input 'x': the element at step 500, batch 0 [500, 0, 1] is NaN; inputs must be finite numbers");
    x[3001] = x[6599] = 0;
    x[1023] = -INFINITY; /* the first block's last element */
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), -1);
    assert_string_equal(
        err, "input 'x': the element at step 170, batch 1 [170, 1, 1] is infinite; inputs must be finite numbers");
    rt_map_free(&in);
    ir_free(m);
}

/* A short input (one partial block of first_nonfinite): a bad float is
 * found and named at every position, and the finite extremes (the
 * largest float, a subnormal, -0) pass. */
static void test_input_values_every_place(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("v");
    ir_add_input(m, "x", TF(IR_DIM_B, 2));
    TensorMap in;
    int64_t sym[1];
    char err[256] = "", want[128];
    rt_map_init(&in);
    put(&in, "x", RT_F32, 2, DIMS(19, 2)); /* 38 floats: 2 blocks of 16, 6 after */
    float *x = rt_map_get(&in, "x")->data;
    for (int i = 0; i < 38; i++) x[i] = i % 3 == 0 ? FLT_MAX : i % 3 == 1 ? FLT_MIN / 4 : -0.0f;
    assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), 0);
    for (int i = 0; i < 38; i++) {
        float keep = x[i];
        x[i] = i % 2 ? INFINITY : NAN;
        assert_int_equal(ir_bind_inputs(m, &in, sym, 0, err, sizeof err), -1);
        snprintf(want, sizeof want, "input 'x': the element at batch %d [%d, %d] is %s; inputs must be finite numbers",
                 i / 2, i / 2, i % 2, i % 2 ? "infinite" : "NaN");
        assert_string_equal(err, want);
        x[i] = keep;
    }
    rt_map_free(&in);
    ir_free(m);
}

static void test_dims_str(void **state)
{
    (void)state;
    Ed e = ed_model(8);
    char buf[64];
    IrType t = TF(IR_DIM_SYM(e.ttgt), IR_DIM_B, 64);
    assert_string_equal(ir_dims_str(e.m, &t, buf, sizeof buf), "[T_tgt, B, 64]");
    IrType s = ir_type(IR_F32, 0, NULL);
    assert_string_equal(ir_dims_str(e.m, &s, buf, sizeof buf), "[]");
    /* A short buffer is truncated, never overrun. */
    assert_string_equal(ir_dims_str(e.m, &t, buf, 6), "[T_tg");
    ir_free(e.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_ok),
        cmocka_unit_test(test_params_errors),
        cmocka_unit_test(test_inputs_resolve_sizes),
        cmocka_unit_test(test_inputs_errors),
        cmocka_unit_test(test_input_values),
        cmocka_unit_test(test_input_values_long),
        cmocka_unit_test(test_input_values_every_place),
        cmocka_unit_test(test_dims_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
