/* test_train_data.c - the datasets of `rnnc train` (driver/train_data.c:
 * text, csv and npy loading, binding to a model, the eval split, char-rnn
 * stream batching, shuffling) and the checkpoint file (driver/checkpoint.c)
 * round trip.  The driver files are not in librnnc.a, so they are compiled
 * into this test directly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "driver/checkpoint.c"
#include "driver/train_data.c"
#include "frontend/sema.h"
#include "test_util.h"

static char err[1024];

static void write_text(const char *name, const char *text, char *path, size_t n)
{
    tu_tmp_path(path, n, name);
    tu_write_file(path, text, strlen(text));
}

/* The IR of a model given as source text (kept alive with its program). */
typedef struct Model {
    Program *p;
    IrModule *m;
    Diag d;
} Model;

static void model_build(Model *md, const char *src)
{
    diag_init(&md->d, "t.rnn", src, stderr);
    md->p = parse_program("t.rnn", src, &md->d);
    assert_non_null(md->p);
    md->m = sema_build(md->p, NULL, &md->d);
    assert_non_null(md->m);
}

static void model_free(Model *md)
{
    ir_free(md->m);
    ast_free(md->p);
}

static const char *charlm_src =
    "model c {\n input x : seq<int>\n target y : seq<int>\n e = embedding(x, vocab=VOCAB, dim=4)\n"
    " h = rnn(e, hidden=3)\n z = dense(h, VOCAB)\n loss = cross_entropy(z, y)\n}\n";

static void charlm(Model *md, int vocab)
{
    char src[512], v[16];
    snprintf(v, sizeof v, "%d", vocab);
    /* Replace both VOCAB placeholders. */
    const char *s = charlm_src;
    char *o = src;
    while (*s) {
        if (!strncmp(s, "VOCAB", 5)) {
            o += sprintf(o, "%s", v);
            s += 5;
        } else
            *o++ = *s++;
    }
    *o = 0;
    model_build(md, src);
}

/* ---- text ------------------------------------------------------------------ */

static void test_text_vocab_and_tokens(void **state)
{
    (void)state;
    char path[512];
    write_text("a.txt", "baca", path, sizeof path);
    Dataset d;
    assert_int_equal(data_load_text(&d, path, err, sizeof err), 0);
    assert_int_equal(d.nvocab, 3);
    assert_memory_equal(d.vocab, "abc", 3); /* sorted bytes */
    int64_t want[4] = {1, 0, 2, 0};         /* b a c a      */
    assert_int_equal(d.ntokens, 4);
    assert_memory_equal(d.tokens, want, sizeof want);
    data_free(&d);
}

static void test_text_errors_name_the_file(void **state)
{
    (void)state;
    char path[512];
    Dataset d;
    tu_tmp_path(path, sizeof path, "missing.txt");
    assert_int_equal(data_load_text(&d, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing.txt"));
    write_text("one.txt", "x", path, sizeof path);
    assert_int_equal(data_load_text(&d, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "one.txt"));
}

/* "abcdefghij" in B = 2 streams of S = (10 - 1) / 2 = 4: stream 0 starts at
 * 0, stream 1 at 4; one chunk of seq_len 3 each. */
static void test_stream_batching(void **state)
{
    (void)state;
    char path[512];
    write_text("s.txt", "abcdefghij", path, sizeof path);
    Dataset d;
    Model md;
    charlm(&md, 10);
    assert_int_equal(data_load_text(&d, path, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), 0);
    DataSplit tr, ev;
    assert_int_equal(data_split(&d, 0, 2, 3, &tr, &ev, err, sizeof err), 0);
    assert_int_equal(tr.stream_len, 4);
    assert_int_equal(tr.nbatches, 1);
    assert_int_equal(ev.nbatches, 0);
    TensorMap out;
    rt_map_init(&out);
    /* Steps [1, 3) of the chunk: a TBPTT segment. */
    assert_int_equal(data_batch(&d, &tr, NULL, 0, 1, 2, &out, err, sizeof err), 0);
    const Tensor *x = rt_map_get(&out, "x"), *y = rt_map_get(&out, "y");
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(x->rank, 2);
    assert_int_equal(x->shape[0], 2);
    assert_int_equal(x->shape[1], 2);
    /* [t][b]: x = b f / c g (ids = letter - 'a'); y one ahead. */
    int64_t wx[4] = {1, 5, 2, 6}, wy[4] = {2, 6, 3, 7};
    assert_memory_equal(x->data, wx, sizeof wx);
    assert_memory_equal(y->data, wy, sizeof wy);
    /* Out of range is refused, not read past the data. */
    assert_int_equal(data_batch(&d, &tr, NULL, 0, 2, 2, &out, err, sizeof err), -1);
    rt_map_free(&out);
    data_free(&d);
    model_free(&md);
}

static void test_eval_split_and_too_little_data(void **state)
{
    (void)state;
    char path[512], text[101];
    for (int i = 0; i < 100; i++) text[i] = (char)('a' + i % 7);
    text[100] = 0;
    write_text("e.txt", text, path, sizeof path);
    Dataset d;
    Model md;
    charlm(&md, 7);
    assert_int_equal(data_load_text(&d, path, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), 0);
    DataSplit tr, ev;
    /* 20 held out: train 80 -> S = 79 / 2 = 39, 3 chunks of 10; eval 20
     * -> min(2, 19 / 10) = 1 stream of 19, one chunk. */
    assert_int_equal(data_split(&d, 0.2, 2, 10, &tr, &ev, err, sizeof err), 0);
    assert_int_equal(tr.len, 80);
    assert_int_equal(tr.nbatches, 3);
    assert_int_equal(ev.start, 80);
    assert_int_equal(ev.batch, 1);
    assert_int_equal(ev.nbatches, 1);
    assert_int_equal(data_split(&d, 0, 20, 10, &tr, &ev, err, sizeof err), -1);
    assert_non_null(strstr(err, "e.txt"));
    assert_non_null(strstr(err, "(need at least 201)"));
    /* batch and seq_len at their limit, 10^15: the need (10^30 + 1) is
     * past int64 and is said as such, not wrapped (it printed
     * "need at least 5076944270305263617"). */
    assert_int_equal(data_split(&d, 0, 1000000000000000, 1000000000000000, &tr, &ev, err, sizeof err), -1);
    assert_non_null(strstr(err, "(need at least 1e+30)"));
    assert_int_equal(data_split(&d, 1.0, 2, 10, &tr, &ev, err, sizeof err), -1);
    data_free(&d);
    model_free(&md);
}

static void test_vocab_larger_than_embedding(void **state)
{
    (void)state;
    char path[512];
    write_text("v.txt", "abcdefgh", path, sizeof path);
    Dataset d;
    Model md;
    charlm(&md, 5);
    assert_int_equal(data_load_text(&d, path, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), -1);
    assert_non_null(strstr(err, "8 distinct characters"));
    assert_non_null(strstr(err, "vocab=5"));
    data_free(&d);
    model_free(&md);
}

/* ---- csv -------------------------------------------------------------------- */

static const char *series_src =
    "model s {\n input x : seq<[2]>\n target y : seq<[1]>\n h = rnn(x, hidden=3)\n z = dense(h, 1)\n"
    " loss = mse(z, y)\n}\n";

static void test_csv_header_rows_and_next_step_target(void **state)
{
    (void)state;
    char path[512];
    write_text("a.csv", "u,v,w\n1,2,3\n4,5,6\r\n\n7,8,9\n", path, sizeof path);
    Dataset d;
    Model md;
    model_build(&md, series_src);
    assert_int_equal(data_load_csv(&d, path, err, sizeof err), 0);
    assert_int_equal(d.ncols, 3);
    assert_int_equal(d.nrows, 3);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), 0);
    DataSplit tr, ev;
    assert_int_equal(data_split(&d, 0, 1, 2, &tr, &ev, err, sizeof err), 0);
    TensorMap out;
    rt_map_init(&out);
    assert_int_equal(data_batch(&d, &tr, NULL, 0, 0, 2, &out, err, sizeof err), 0);
    /* x_t = the first 2 columns of row t; y_t = column 0 of row t + 1. */
    float wx[4] = {1, 2, 4, 5}, wy[2] = {4, 7};
    assert_memory_equal(rt_map_get(&out, "x")->data, wx, sizeof wx);
    assert_memory_equal(rt_map_get(&out, "y")->data, wy, sizeof wy);
    rt_map_free(&out);
    data_free(&d);
    model_free(&md);
}

static void test_csv_errors(void **state)
{
    (void)state;
    char path[512];
    Dataset d;
    write_text("b.csv", "1,2\n3,x\n", path, sizeof path);
    assert_int_equal(data_load_csv(&d, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "b.csv:2: column 2: 'x' is not a number"));
    /* Only decimal numbers finite in float32, though strtod reads more
     * (docs/training.md); the first line too, which is no header then. */
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"1,2\n3,nan\n", "n1.csv:2: column 2: 'nan' is not a decimal number"},
        {"1,2\n-inf,4\n", "n1.csv:2: column 1: '-inf' is not a decimal number"},
        {"1,2\n3, infinity\n", "n1.csv:2: column 2: 'infinity' is not a decimal number"},
        {"1,0x10\n3,4\n", "n1.csv:1: column 2: '0x10' is not a decimal number"},
        {"1,2\n3,1e999\n", "n1.csv:2: column 2: '1e999' is out of the range of float32"},
        {"1,2\n-3.5e38,4\n", "n1.csv:2: column 1: '-3.5e38' is out of the range of float32"},
        {"1,2\n3,4e\n", "n1.csv:2: column 2: '4e' is not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text("n1.csv", bad[i].text, path, sizeof path);
        assert_int_equal(data_load_csv(&d, path, err, sizeof err), -1);
        if (!strstr(err, bad[i].msg)) fail_msg("%s: got <%s>, want <%s>", bad[i].text, err, bad[i].msg);
    }
    write_text("n2.csv", "+1.5,.25\n-2.,1e-3\n3E+2 , 3.4e38\n1e-999,-0\n", path, sizeof path);
    assert_int_equal(data_load_csv(&d, path, err, sizeof err), 0);
    float want[8] = {1.5f, 0.25f, -2.0f, 1e-3f, 300.0f, 3.4e38f, 0.0f, -0.0f};
    assert_int_equal(d.nrows, 4);
    assert_memory_equal(d.values, want, sizeof want);
    data_free(&d);
    write_text("c.csv", "1,2\n3,4,5\n", path, sizeof path);
    assert_int_equal(data_load_csv(&d, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "c.csv:2: expected 2 columns, got 3"));
    /* Too few columns for the model: 1 column, the input needs 2. */
    write_text("d.csv", "1\n2\n3\n", path, sizeof path);
    Model md;
    model_build(&md, series_src);
    assert_int_equal(data_load_csv(&d, path, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), -1);
    assert_non_null(strstr(err, "d.csv: the file has 1 columns"));
    data_free(&d);
    model_free(&md);
}

/* ---- npy ---------------------------------------------------------------------- */

static const char *npy_src =
    "model n {\n input x : seq<[1]>\n target c : int\n h = rnn(x, hidden=2)\n z = dense(last(h), 3)\n"
    " loss = cross_entropy(z, c)\n}\n";

static void test_npy_batches_follow_the_permutation(void **state)
{
    (void)state;
    char px[512], pc[512];
    /* x[t, n] = 10 t + n over T = 2, N = 4; c[n] = n. */
    Tensor x, c;
    int64_t xs[3] = {2, 4, 1}, cs[1] = {4};
    assert_int_equal(rt_tensor_alloc(&x, RT_F32, 3, xs), 0);
    assert_int_equal(rt_tensor_alloc(&c, RT_I64, 1, cs), 0);
    for (int t = 0; t < 2; t++)
        for (int n = 0; n < 4; n++) ((float *)x.data)[t * 4 + n] = (float)(10 * t + n);
    for (int n = 0; n < 4; n++) ((int64_t *)c.data)[n] = n;
    tu_tmp_path(px, sizeof px, "x.npy");
    tu_tmp_path(pc, sizeof pc, "c.npy");
    assert_int_equal(rt_npy_write(px, &x, err, sizeof err), 0);
    assert_int_equal(rt_npy_write(pc, &c, err, sizeof err), 0);
    rt_tensor_free(&x);
    rt_tensor_free(&c);

    Dataset d;
    Model md;
    model_build(&md, npy_src);
    const char *names[2] = {"x", "c"}, *paths[2] = {px, pc};
    assert_int_equal(data_load_npy(&d, names, paths, 2, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), 0);
    assert_int_equal(d.nexamples, 4);
    assert_int_equal(data_default_seq_len(&d), 2);
    DataSplit tr, ev;
    /* eval 0.25: 1 example held out (n = 3), 3 train -> 1 batch of 2. */
    assert_int_equal(data_split(&d, 0.25, 2, 2, &tr, &ev, err, sizeof err), 0);
    assert_int_equal(tr.nbatches, 1);
    assert_int_equal(ev.nbatches, 1);
    assert_int_equal(data_batch_size(&ev, 0), 1);
    int64_t perm[3] = {2, 0, 1};
    TensorMap out;
    rt_map_init(&out);
    assert_int_equal(data_batch(&d, &tr, perm, 0, 0, 2, &out, err, sizeof err), 0);
    float wx[4] = {2, 0, 12, 10};
    int64_t wc[2] = {2, 0};
    assert_memory_equal(rt_map_get(&out, "x")->data, wx, sizeof wx);
    assert_memory_equal(rt_map_get(&out, "c")->data, wc, sizeof wc);
    rt_map_free(&out);
    assert_int_equal(data_batch(&d, &ev, NULL, 0, 0, 2, &out, err, sizeof err), 0);
    assert_int_equal(rt_map_get(&out, "x")->shape[1], 1);
    assert_int_equal(((int64_t *)rt_map_get(&out, "c")->data)[0], 3);
    rt_map_free(&out);
    /* seq_len must be the arrays' T. */
    assert_int_equal(data_split(&d, 0, 2, 5, &tr, &ev, err, sizeof err), -1);
    data_free(&d);
    /* A missing target is named. */
    assert_int_equal(data_load_npy(&d, names, paths, 1, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), -1);
    assert_non_null(strstr(err, "target 'c'"));
    data_free(&d);
    model_free(&md);
}

static void test_shuffle_is_a_seeded_permutation(void **state)
{
    (void)state;
    int64_t a[50], b[50];
    RtRng r1, r2;
    rt_rng_seed(&r1, 7);
    rt_rng_seed(&r2, 7);
    data_shuffle(a, 50, &r1);
    data_shuffle(b, 50, &r2);
    assert_memory_equal(a, b, sizeof a);
    int seen[50] = {0}, moved = 0;
    for (int i = 0; i < 50; i++) {
        assert_true(a[i] >= 0 && a[i] < 50);
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 0);
}

/* ---- checkpoints -------------------------------------------------------------------- */

static void put_f32(TensorMap *m, const char *name, int64_t n, float base)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, 1, &n), 0);
    for (int64_t i = 0; i < n; i++) ((float *)t.data)[i] = base + (float)i;
    assert_int_equal(rt_map_put(m, name, &t), 0);
}

static void assert_maps_equal(const TensorMap *a, const TensorMap *b)
{
    assert_int_equal(a->count, b->count);
    for (int i = 0; i < a->count; i++) {
        const Tensor *t = rt_map_get(b, a->names[i]);
        assert_non_null(t);
        assert_int_equal(t->dtype, a->tensors[i].dtype);
        assert_int_equal(rt_numel(t), rt_numel(&a->tensors[i]));
        assert_memory_equal(t->data, a->tensors[i].data, (size_t)rt_numel(t) * rt_dtype_size(t->dtype));
    }
}

/* The training step's view of the checkpoint above: its parameter, and
 * its optimizer and carried state as inputs with those roles. */
static IrModule *ckpt_module(void)
{
    IrModule *m = ir_module_new("ck");
    int64_t six = 6, three = 3;
    ir_add_param(m, "h.weight", ir_type(IR_F32, 1, &six), (IrInit){IR_INIT_ZERO, 0});
    ir_add_role_input(m, "opt:h.weight.m", ir_type(IR_F32, 1, &six), IR_ROLE_OPT_STATE);
    ir_add_role_input(m, "carry:0", ir_type(IR_F32, 1, &three), IR_ROLE_CARRY);
    return m;
}

static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    IrModule *cm = ckpt_module(), *bare = ir_module_new("bare");
    char path[512];
    tu_tmp_path(path, sizeof path, "ck.safetensors");
    TrainState s, r;
    ckpt_init(&s);
    s.step = 123;
    s.epoch = 4;
    s.batch = 5;
    s.segment = 1;
    s.seed = 999999999999989;          /* dropout's key: the run's seed, past 32 bits */
    s.epoch_loss = 12.345678901234567; /* the epoch so far: a double, exactly */
    s.epoch_steps = 5;
    s.epoch_right = 77;
    s.epoch_positions = 160;
    /* Words with the top bit set must survive the bit cast to I64. */
    s.rng[0] = 0xffffffffffffffffull;
    s.rng[1] = 1;
    s.rng[2] = 0x8000000000000000ull;
    s.rng[3] = 42;
    put_f32(&s.params, "h.weight", 6, 0.5f);
    put_f32(&s.opt, "opt:h.weight.m", 6, -1);
    put_f32(&s.carry, "carry:0", 3, 7);
    memcpy(s.vocab, "\n abz", 5);
    s.nvocab = 5;
    assert_int_equal(ckpt_write(path, &s, err, sizeof err), 0);
    int meta;
    assert_int_equal(ckpt_read(path, cm, &r, &meta, err, sizeof err), 0);
    assert_int_equal(meta, 1);
    assert_int_equal(r.step, 123);
    assert_int_equal(r.epoch, 4);
    assert_int_equal(r.batch, 5);
    assert_int_equal(r.segment, 1);
    assert_int_equal(r.has_seed, 1);
    assert_true(r.seed == 999999999999989);
    assert_true(r.epoch_loss == 12.345678901234567);
    assert_int_equal(r.epoch_steps, 5);
    assert_int_equal(r.epoch_right, 77);
    assert_int_equal(r.epoch_positions, 160);
    assert_memory_equal(r.rng, s.rng, sizeof s.rng);
    assert_int_equal(r.nvocab, 5);
    assert_memory_equal(r.vocab, "\n abz", 5);
    assert_maps_equal(&s.params, &r.params);
    assert_maps_equal(&s.opt, &r.opt);
    assert_maps_equal(&s.carry, &r.carry);
    ckpt_free(&r);

    /* The roles sort, not the names: for a module without that state
     * everything is a would-be parameter, and ckpt_keep_params keeps only
     * the parameters the module has (here none). */
    assert_int_equal(ckpt_read(path, bare, &r, &meta, err, sizeof err), 0);
    assert_int_equal(r.params.count, 3);
    assert_int_equal(r.opt.count, 0);
    assert_int_equal(r.carry.count, 0);
    assert_non_null(rt_map_get(&r.params, "opt:h.weight.m"));
    ckpt_keep_params(&r, bare);
    assert_int_equal(r.params.count, 0);
    ckpt_free(&r);
    assert_int_equal(ckpt_read(path, cm, &r, &meta, err, sizeof err), 0);
    ckpt_keep_params(&r, cm);
    assert_maps_equal(&s.params, &r.params);
    assert_int_equal(r.opt.count, 1);
    ckpt_free(&r);

    /* A plain weights file reads as weights with no training state. */
    char wpath[512];
    tu_tmp_path(wpath, sizeof wpath, "w.safetensors");
    assert_int_equal(rt_st_write(wpath, &s.params, err, sizeof err), 0);
    assert_int_equal(ckpt_read(wpath, cm, &r, &meta, err, sizeof err), 0);
    assert_int_equal(meta, 0);
    assert_int_equal(r.params.count, 1);
    assert_int_equal(r.nvocab, 0);
    assert_int_equal(r.has_seed, 0);
    ckpt_free(&r);

    /* A malformed counter is refused with the file's name. */
    Tensor bad;
    int64_t two = 2;
    assert_int_equal(rt_tensor_alloc(&bad, RT_F32, 1, &two), 0);
    rt_map_put(&s.params, "train:step", &bad);
    assert_int_equal(rt_st_write(wpath, &s.params, err, sizeof err), 0);
    assert_int_equal(ckpt_read(wpath, cm, &r, &meta, err, sizeof err), -1);
    assert_non_null(strstr(err, "w.safetensors: 'train:step'"));
    ckpt_free(&s);
    ir_free(cm);
    ir_free(bare);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_vocab_and_tokens),
        cmocka_unit_test(test_text_errors_name_the_file),
        cmocka_unit_test(test_stream_batching),
        cmocka_unit_test(test_eval_split_and_too_little_data),
        cmocka_unit_test(test_vocab_larger_than_embedding),
        cmocka_unit_test(test_csv_header_rows_and_next_step_target),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_npy_batches_follow_the_permutation),
        cmocka_unit_test(test_shuffle_is_a_seeded_permutation),
        cmocka_unit_test(test_checkpoint_round_trip),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
