/* test_train_examples.c - training data of examples of different lengths
 * (driver/train_data_seqs.c: text lines and csv rows; driver/train_data.c:
 * npy lengths, batches padded to their longest member, bucketing, the
 * padding fraction) and a tagger's accuracy over the real steps
 * (driver/accuracy.c).  The driver files are not in librnnc.a, so they
 * are compiled into this test directly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "driver/accuracy.c"
#include "driver/train_data.c"
#include "driver/train_data_seqs.c"
#include "frontend/sema.h"
#include "test_util.h"

static char err[1024];

static const char *classifier_src = "model c {\n input tokens : seq<int, 8> lengths\n target y : int\n"
                                    " e = embedding(tokens, vocab=4, dim=2)\n h = gru(e, hidden=2)\n"
                                    " z = dense(last(h), 2)\n loss = cross_entropy(z, y)\n}\n";
static const char *tagger_src = "model t {\n input tokens : seq<int, 8> lengths\n target y : seq<int>\n"
                                " e = embedding(tokens, vocab=4, dim=2)\n h = gru(e, hidden=2)\n"
                                " z = dense(h, 2)\n loss = cross_entropy(z, y)\n}\n";
static const char *series_src = "model s {\n input x : seq<[2], 8> lengths\n target y : int\n"
                                " h = gru(x, hidden=2)\n z = dense(last(h), 2)\n loss = cross_entropy(z, y)\n}\n";

static void write_file(const char *name, const char *text, char *path, size_t n)
{
    tu_tmp_path(path, n, name);
    tu_write_file(path, text, strlen(text));
}

static void assert_i64(const Tensor *t, const int64_t *want, int64_t n)
{
    assert_non_null(t);
    assert_int_equal(t->dtype, RT_I64);
    assert_int_equal(rt_numel(t), n);
    for (int64_t i = 0; i < n; i++) assert_int_equal(((const int64_t *)t->data)[i], want[i]);
}

/* Loads `text` as text examples for `src` and binds them. */
static void load_text(Dataset *d, TuBuilt *md, const char *src, const char *text)
{
    char path[512];
    write_file("ex.txt", text, path, sizeof path);
    *md = tu_build(src);
    assert_int_equal(data_load_text_examples(d, path, md->m, err, sizeof err), 0);
    assert_int_equal(data_bind(d, md->m, err, sizeof err), 0);
}

/* Words get the ranks of the sorted distinct words (a 0, b 1, c 2; neg 0,
 * pos 1), the arrays are time-major and padded with 0, and a batch has
 * the steps of its longest member. */
static void test_text_classifier(void **state)
{
    (void)state;
    Dataset d;
    TuBuilt md;
    load_text(&d, &md, classifier_src, "pos\ta b c\nneg\tb\r\nneg\t c  a \n");
    int64_t lens[3] = {3, 1, 2};
    assert_int_equal(d.nexamples, 3);
    assert_memory_equal(d.lengths, lens, sizeof lens);
    int64_t x[9] = {0, 1, 2, 1, 0, 0, 2, 0, 0}; /* [T = 3, N = 3] */
    assert_i64(&d.arrays[0], x, 9);
    int64_t y[3] = {1, 0, 0};
    assert_i64(&d.arrays[1], y, 3);
    assert_int_equal(data_default_seq_len(&d), 3);
    DataSplit tr, ev;
    assert_int_equal(data_split(&d, 0, 2, 3, &tr, &ev, err, sizeof err), 0);
    assert_int_equal(tr.nbatches, 1);
    int64_t perm[3] = {1, 2, 0};
    TensorMap out;
    rt_map_init(&out);
    assert_int_equal(data_batch(&d, &tr, perm, 0, 0, 3, &out, err, sizeof err), 0);
    int64_t bx[4] = {1, 2, 0, 0}, blen[2] = {1, 2}, by[2] = {0, 0}; /* examples 1 and 2: T = 2 */
    assert_int_equal(rt_map_get(&out, "tokens")->shape[0], 2);
    assert_i64(rt_map_get(&out, "tokens"), bx, 4);
    assert_i64(rt_map_get(&out, "tokens.len"), blen, 2);
    assert_i64(rt_map_get(&out, "y"), by, 2);
    assert_int_equal(data_batch_steps(&d, &tr, perm, 0), 2);
    /* a classifier's loss is a mean over its examples */
    assert_true(data_loss_weight(&d, &tr, perm, 0, 0, 3) == 2.0);
    rt_map_free(&out);
    data_free(&d);
    tu_built_free(&md);
}

/* A tagger: one tag a token; the loss weight is the real steps.  Whole
 * numbers are their own ids. */
static void test_text_tagger_and_number_ids(void **state)
{
    (void)state;
    Dataset d;
    TuBuilt md;
    load_text(&d, &md, tagger_src, "1 0\t3 2\n1\t0\n");
    int64_t x[4] = {3, 0, 2, 0}, y[4] = {1, 1, 0, 0};
    assert_i64(&d.arrays[0], x, 4);
    assert_i64(&d.arrays[1], y, 4);
    assert_true(d.cut_target);
    DataSplit tr, ev;
    assert_int_equal(data_split(&d, 0, 2, 2, &tr, &ev, err, sizeof err), 0);
    assert_true(data_loss_weight(&d, &tr, NULL, 0, 0, 2) == 3.0);
    data_free(&d);
    tu_built_free(&md);
    /* ids past the embedding's vocab=4 */
    char path[512];
    write_file("big.txt", "1 0\t7 2\n", path, sizeof path);
    md = tu_build(tagger_src);
    assert_int_equal(data_load_text_examples(&d, path, md.m, err, sizeof err), -1);
    assert_non_null(strstr(err, "the tokens have 8 ids but the embedding of 'tokens' has vocab=4"));
    /* each line's own errors, with its number */
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"A B\tx y\nA B\tx y z\n", "big.txt:2: 2 tags for 3 tokens; the target 'y' (seq<int>) takes one a token"},
        {"A\tx\nx y z\n", "big.txt:2: no tab; a line is LABEL<TAB>TOKENS, the tokens separated by spaces"},
        {"A\tx\n\tx\n", "big.txt:2: 0 tags for 1 tokens"},
        {"A\tx\n \n", "big.txt:2: an empty line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("big.txt", bad[i].text, path, sizeof path);
        assert_int_equal(data_load_text_examples(&d, path, md.m, err, sizeof err), -1);
        if (!strstr(err, bad[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].msg);
    }
    tu_built_free(&md);
}

/* csv rows: steps separated by ';', numbers by spaces, columns by name. */
static void test_csv_examples(void **state)
{
    (void)state;
    char path[512];
    write_file("ex.csv", "id, y ,x\n\n7,1,1 2;3 4\n8,0, 5 6\n", path, sizeof path);
    TuBuilt md;
    md = tu_build(series_src);
    Dataset d;
    assert_int_equal(data_load_csv_examples(&d, path, md.m, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), 0);
    float x[8] = {1, 2, 5, 6, 3, 4, 0, 0}; /* [T = 2, N = 2, 2] */
    assert_int_equal(d.arrays[0].dtype, RT_F32);
    assert_memory_equal(d.arrays[0].data, x, sizeof x);
    int64_t y[2] = {1, 0}, lens[2] = {2, 1};
    assert_i64(&d.arrays[1], y, 2);
    assert_memory_equal(d.lengths, lens, sizeof lens);
    data_free(&d);
    /* errors name the file, the line and the column */
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"y,x\n1,1 2;3\n", "ex.csv:2: column 'x', step 2: 1 number, 'x' takes 2 a step"},
        {"y,x\n1,1 2;3 nan\n", "ex.csv:2: column 'x', step 2: 'nan' is not a decimal number"},
        {"y,x\n1,\n", "ex.csv:2: column 'x' is empty (length 0"},
        {"y,x\n1;0,1 2\n", "ex.csv:2: column 'y' has 2 steps, the target takes 1"},
        {"y,x\n1,1 2,3\n", "ex.csv:2: 3 columns, the header has 2"},
        {"y,x\n-1,1 2\n", "ex.csv:2: column 'y', step 1: '-1' is not an id"},
        {"id,x\n1,1 2\n", "ex.csv:1: the first line names no column 'y' (the target); csv data of examples starts "
                          "with a header naming the columns, such as y,x"},
        {"y,x\n1,1 1;1 1;1 1;1 1;1 1;1 1;1 1;1 1;1 1\n", "ex.csv:2: 9 steps, more than the 8 steps input 'x' may have"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("ex.csv", bad[i].text, path, sizeof path);
        assert_int_equal(data_load_csv_examples(&d, path, md.m, err, sizeof err), -1);
        if (!strstr(err, bad[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].msg);
    }
    tu_built_free(&md);
}

/* npy: the lengths as NAME_len, checked against T and the type's limit. */
static void test_npy_lengths(void **state)
{
    (void)state;
    char px[512], pl[512], py[512];
    Tensor x, l, y;
    int64_t xs[2] = {3, 2}, n = 2;
    assert_int_equal(rt_tensor_alloc(&x, RT_I64, 2, xs), 0);
    assert_int_equal(rt_tensor_alloc(&l, RT_I32, 1, &n), 0);
    assert_int_equal(rt_tensor_alloc(&y, RT_I64, 1, &n), 0);
    ((int32_t *)l.data)[0] = 3;
    ((int32_t *)l.data)[1] = 1;
    tu_tmp_path(px, sizeof px, "x.npy");
    tu_tmp_path(pl, sizeof pl, "l.npy");
    tu_tmp_path(py, sizeof py, "y.npy");
    assert_int_equal(rt_npy_write(px, &x, err, sizeof err), 0);
    assert_int_equal(rt_npy_write(pl, &l, err, sizeof err), 0);
    assert_int_equal(rt_npy_write(py, &y, err, sizeof err), 0);
    TuBuilt md;
    md = tu_build(classifier_src);
    Dataset d;
    const char *names[3] = {"tokens", "tokens_len", "y"}, *paths[3] = {px, pl, py};
    assert_int_equal(data_load_npy(&d, names, paths, 3, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), 0);
    int64_t lens[2] = {3, 1};
    assert_memory_equal(d.lengths, lens, sizeof lens);
    data_free(&d);
    /* no lengths: named with the argument to add */
    const char *n2[2] = {"tokens", "y"}, *p2[2] = {px, py};
    assert_int_equal(data_load_npy(&d, n2, p2, 2, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), -1);
    assert_non_null(strstr(err, "add tokens_len=\"len.npy\""));
    data_free(&d);
    /* a length above T */
    ((int32_t *)l.data)[1] = 4;
    assert_int_equal(rt_npy_write(pl, &l, err, sizeof err), 0);
    assert_int_equal(data_load_npy(&d, names, paths, 3, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), -1);
    assert_non_null(strstr(err, "l.npy: example 1 has length 4; a length is 1 to T = 3"));
    data_free(&d);
    rt_tensor_free(&x);
    rt_tensor_free(&l);
    rt_tensor_free(&y);
    tu_built_free(&md);
}

/* Writes an I64 array of `rank` dims `shape` holding v to a temporary
 * file `name`; its path into path. */
static void write_i64(const char *name, int rank, const int64_t *shape, const int64_t *v, char *path, size_t n)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_I64, rank, shape), 0);
    memcpy(t.data, v, (size_t)rt_numel(&t) * sizeof *v);
    tu_tmp_path(path, n, name);
    assert_int_equal(rt_npy_write(path, &t, err, sizeof err), 0);
    rt_tensor_free(&t);
}

/* An encoder-decoder with lengths on both sides (npy): the source [Ts = 3,
 * N = 3] and the decoder's input and target [Tt = 4, N] have a T and
 * lengths of their own.  A batch of examples 2 and 0 (perm) has the
 * source steps of its longest source (3, example 0's) and the target
 * steps of its longest target (3, example 2's: not Tt), both lengths
 * under their inputs' names; the loss
 * weight is the target's real steps, the padding counts both sides.  A
 * target sequence of another T than its side's is named. */
static void test_npy_two_lengths(void **state)
{
    (void)state;
    static const char *src = "model s {\n input src : seq<int, 8> lengths\n input tin : seq<int, 8> lengths\n"
                             " target tout : seq<int>\n e = embedding(src, vocab=9, dim=2)\n h = gru(e, hidden=2)\n"
                             " f = embedding(tin, vocab=9, dim=2)\n g = gru(f, hidden=2, init=h)\n"
                             " z = dense(g, 9)\n loss = cross_entropy(z, tout)\n}\n";
    char p[5][512];
    int64_t s3[2] = {3, 3}, t4[2] = {4, 3}, n3 = 3;
    const int64_t sx[9] = {1, 2, 3, 4, 0, 5, 6, 0, 0}, sl[3] = {3, 1, 2};
    const int64_t tx[12] = {8, 8, 8, 1, 2, 3, 0, 3, 4, 0, 4, 0}, tl[3] = {2, 4, 3};
    const int64_t ty[12] = {1, 2, 3, 7, 3, 4, 0, 4, 7, 0, 7, 0};
    write_i64("s.npy", 2, s3, sx, p[0], sizeof p[0]);
    write_i64("sl.npy", 1, &n3, sl, p[1], sizeof p[1]);
    write_i64("ti.npy", 2, t4, tx, p[2], sizeof p[2]);
    write_i64("tl.npy", 1, &n3, tl, p[3], sizeof p[3]);
    write_i64("to.npy", 2, t4, ty, p[4], sizeof p[4]);
    TuBuilt md = tu_build(src);
    Dataset d;
    const char *names[5] = {"src", "src_len", "tin", "tin_len", "tout"}, *paths[5] = {p[0], p[1], p[2], p[3], p[4]};
    assert_int_equal(data_load_npy(&d, names, paths, 5, err, sizeof err), 0);
    if (data_bind(&d, md.m, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(d.nmore, 1);
    assert_int_equal(d.cut_target, 2);
    assert_string_equal(data_target_lengths(&d), "tin.len");
    DataSplit tr, ev;
    assert_int_equal(data_split(&d, 0, 2, 3, &tr, &ev, err, sizeof err), 0);
    int64_t perm[3] = {2, 0, 1};
    TensorMap out;
    rt_map_init(&out);
    assert_int_equal(data_batch(&d, &tr, perm, 0, 0, 3, &out, err, sizeof err), 0);
    /* [3, 2] each: example 0's source (3) and example 2's target (3) are the longest */
    const int64_t bs[6] = {3, 1, 5, 4, 0, 6}, bsl[2] = {2, 3};
    const int64_t bt[6] = {8, 8, 3, 1, 4, 0}, btl[2] = {3, 2}, by[6] = {3, 1, 4, 7, 7, 0};
    assert_i64(rt_map_get(&out, "src"), bs, 6);
    assert_i64(rt_map_get(&out, "src.len"), bsl, 2);
    assert_i64(rt_map_get(&out, "tin"), bt, 6);
    assert_i64(rt_map_get(&out, "tin.len"), btl, 2);
    assert_i64(rt_map_get(&out, "tout"), by, 6);
    assert_true(data_loss_weight(&d, &tr, perm, 0, 0, 3) == 5.0);
    int64_t real = 0, all = 0;
    data_batch_padding(&d, &tr, perm, 0, &real, &all);
    assert_int_equal(real, 2 + 3 + 3 + 2); /* sources 2 and 3, targets 3 and 2 */
    assert_int_equal(all, 2 * 3 + 2 * 3);
    rt_map_free(&out);
    data_free(&d);
    /* the target of the decoder's side with the source's T */
    write_i64("to.npy", 2, s3, sx, p[4], sizeof p[4]);
    assert_int_equal(data_load_npy(&d, names, paths, 5, err, sizeof err), 0);
    assert_int_equal(data_bind(&d, md.m, err, sizeof err), -1);
    assert_non_null(strstr(err, "'tout' has 3 steps, the other sequences of the lengths 'tin.len' 4"));
    data_free(&d);
    tu_built_free(&md);
}

/* An encoder-decoder's text, SOURCE<TAB>TARGET: the source's ids (a 0, b
 * 1, c 2), the target's of their own (x 0, y 1: V = 2, EOS 2, BOS 3);
 * the decoder's input is BOS and the target, the target the target and
 * EOS, both one step longer than it; an empty target is EOS alone.
 * Then each line's errors, and a decoder embedding without room for
 * EOS and BOS. */
static void test_text_seq2seq(void **state)
{
    (void)state;
    static const char *src = "model s {\n input src : seq<int, 4> lengths\n input tin : seq<int, 3> lengths\n"
                             " target tout : seq<int>\n e = embedding(src, vocab=3, dim=2)\n h = gru(e, hidden=2)\n"
                             " f = embedding(tin, vocab=4, dim=2)\n g = gru(f, hidden=2, init=h)\n"
                             " z = dense(g, 3)\n loss = cross_entropy(z, tout)\n}\n";
    Dataset d;
    TuBuilt md;
    load_text(&d, &md, src, "a b c\tx y\nb\tx\nc\t\n");
    const int64_t sx[9] = {0, 1, 2, 1, 0, 0, 2, 0, 0}, sl[3] = {3, 1, 1};
    const int64_t ty[9] = {0, 0, 2, 1, 2, 0, 2, 0, 0}, tx[9] = {3, 3, 3, 0, 0, 0, 1, 0, 0}, tl[3] = {3, 2, 1};
    assert_int_equal(d.nmore, 1);
    assert_i64(&d.arrays[0], sx, 9);
    assert_i64(&d.arrays[1], ty, 9);
    assert_i64(&d.arrays[3], tx, 9);
    assert_memory_equal(d.lengths, sl, sizeof sl);
    assert_memory_equal(d.more[0].lengths, tl, sizeof tl);
    assert_string_equal(data_target_lengths(&d), "tin.len");
    data_free(&d);
    tu_built_free(&md);
    char path[512];
    md = tu_build(src);
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"a\tx\nx y\n", "s2s.txt:2: no tab; a line is SOURCE<TAB>TARGET"},
        {"a\tx\n\tx\n", "s2s.txt:2: no source tokens before the tab (length 0"},
        {"a\tx y z\n", "s2s.txt:1: 3 target tokens, and the decoder's BOS, are more than the 3 steps input 'tin'"},
        {"a b c d e\tx\n", "s2s.txt:1: 5 source tokens, more than the 4 steps input 'src' may have"},
        {"a\tx\n\n", "s2s.txt:2: an empty line; every line is one example, SOURCE<TAB>TARGET"},
        {"a\tx y\nb\tw\n", "the target's tokens, EOS and BOS are 5 ids but the embedding of 'tin' has vocab=4"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("s2s.txt", bad[i].text, path, sizeof path);
        int rc = data_load_text_examples(&d, path, md.m, err, sizeof err);
        if (rc != -1 || !strstr(err, bad[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].msg);
    }
    tu_built_free(&md);
}

/* A data set of n examples whose lengths come from a small LCG, 1..20. */
static void lcg_dataset(Dataset *d, DataSplit *sp, int64_t n, int64_t batch)
{
    memset(d, 0, sizeof *d);
    d->lengths = malloc((size_t)n * sizeof *d->lengths);
    assert_non_null(d->lengths);
    uint64_t s = 12345;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        d->lengths[i] = 1 + (int64_t)((s >> 33) % 20);
    }
    memset(sp, 0, sizeof *sp);
    *sp = (DataSplit){.len = n, .batch = batch, .seq_len = 20, .nitems = n, .nbatches = n / batch};
}

static double padding(const Dataset *d, const DataSplit *sp, const int64_t *perm)
{
    int64_t real = 0, all = 0;
    for (int64_t j = 0; j < sp->nbatches; j++) data_batch_padding(d, sp, perm, j, &real, &all);
    return 1 - (double)real / (double)all;
}

/* Bucketing keeps every example of the epoch once, sorts each batch's
 * members, pads less than the plain shuffle, and draws the same order
 * from the same generator state. */
static void test_bucketing(void **state)
{
    (void)state;
    enum { N = 203, B = 4 }; /* 50 batches, 3 examples left out */
    Dataset d;
    DataSplit sp;
    lcg_dataset(&d, &sp, N, B);
    int64_t plain[N], a[N], b[N];
    RtRng r1, r2, r3;
    rt_rng_seed(&r1, 9);
    data_shuffle(plain, N, &r1);
    rt_rng_seed(&r2, 9);
    data_shuffle(a, N, &r2);
    assert_int_equal(data_bucket(&d, &sp, a, 5, &r2), 0);
    rt_rng_seed(&r3, 9);
    data_shuffle(b, N, &r3);
    assert_int_equal(data_bucket(&d, &sp, b, 5, &r3), 0);
    assert_memory_equal(a, b, sizeof a); /* a function of the generator */
    int seen[N] = {0};
    for (int i = 0; i < N; i++) seen[a[i]]++;
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    /* the examples left out of the epoch are the plain shuffle's */
    assert_memory_equal(a + 200, plain + 200, 3 * sizeof *a);
    for (int j = 0; j < 50; j++)
        for (int k = 1; k < B; k++) assert_true(d.lengths[a[j * B + k - 1]] <= d.lengths[a[j * B + k]]);
    double p_plain = padding(&d, &sp, plain), p_bucket = padding(&d, &sp, a);
    assert_true(p_plain > 0.3); /* lengths uniform in 1..20: ~45% */
    assert_true(p_bucket < p_plain / 3);
    /* shuffle = false: pools of the data's order, sorted, batches in order */
    int64_t o[N];
    data_shuffle(o, N, NULL);
    assert_int_equal(data_bucket(&d, &sp, o, 1000, NULL), 0);
    for (int i = 1; i < 200; i++) assert_true(d.lengths[o[i - 1]] <= d.lengths[o[i]]);
    /* the eval order: every item, sorted, equal lengths in order */
    int64_t e[N];
    sp.nitems = N;
    assert_int_equal(data_sort_items(&d, &sp, e), 0);
    for (int i = 1; i < N; i++)
        assert_true(d.lengths[e[i - 1]] < d.lengths[e[i]] ||
                    (d.lengths[e[i - 1]] == d.lengths[e[i]] && e[i - 1] < e[i]));
    data_free(&d);
}

/* The padding fraction of batches: 1 - sum(len) / (B * T_batch). */
static void test_padding_fraction(void **state)
{
    (void)state;
    Dataset d;
    memset(&d, 0, sizeof d);
    int64_t lens[5] = {3, 1, 2, 2, 5};
    d.lengths = lens;
    DataSplit sp = {.len = 5, .batch = 2, .seq_len = 5, .nitems = 5, .nbatches = 2};
    int64_t real = 0, all = 0;
    data_batch_padding(&d, &sp, NULL, 0, &real, &all); /* 3, 1: T = 3 */
    assert_int_equal(real, 4);
    assert_int_equal(all, 6);
    data_batch_padding(&d, &sp, NULL, 1, &real, &all); /* 2, 2: no padding */
    assert_int_equal(real, 8);
    assert_int_equal(all, 10);
    int64_t perm[5] = {0, 4, 1, 2, 3}; /* 3, 5: T = 5 */
    real = all = 0;
    data_batch_padding(&d, &sp, perm, 0, &real, &all);
    assert_int_equal(real, 8);
    assert_int_equal(all, 10);
}

/* A tagger's accuracy counts the real steps only. */
static void test_accuracy_over_real_steps(void **state)
{
    (void)state;
    Tensor lg, t, len;
    int64_t ls[3] = {2, 2, 2}, ts[2] = {2, 2}, n = 2;
    assert_int_equal(rt_tensor_alloc(&lg, RT_F32, 3, ls), 0);
    assert_int_equal(rt_tensor_alloc(&t, RT_I64, 2, ts), 0);
    assert_int_equal(rt_tensor_alloc(&len, RT_I64, 1, &n), 0);
    /* argmax: (0,0) 1, (0,1) 0, (1,0) 1, (1,1) 1; targets all 1 */
    float l[8] = {0, 1, 1, 0, 0, 1, 0, 1};
    memcpy(lg.data, l, sizeof l);
    for (int i = 0; i < 4; i++) ((int64_t *)t.data)[i] = 1;
    ((int64_t *)len.data)[0] = 2;
    ((int64_t *)len.data)[1] = 1; /* (1,1) is padding */
    int64_t right = 0, cnt = 0;
    assert_int_equal(acc_count_lengths(&lg, &t, &len, &right, &cnt), 0);
    assert_int_equal(right, 2);
    assert_int_equal(cnt, 3);
    right = cnt = 0;
    assert_int_equal(acc_count_lengths(&lg, &t, NULL, &right, &cnt), 0);
    assert_int_equal(right, 3);
    assert_int_equal(cnt, 4);
    rt_tensor_free(&lg);
    rt_tensor_free(&t);
    rt_tensor_free(&len);
}

/* TBPTT segments of a tagger's batch (cmd_train.c cuts them): lengths 5,
 * 2, 4 padded to the batch's 5 steps, segments [0, 2), [2, 4), [4, 5).
 * The arrays take the segment's steps; x.len is the mask of each
 * example's steps in it, clamp(len - t0, 0, n) ones then zeros, all zeros
 * for example 1 past its end; the loss weight is the real steps there.
 * A segment from the batch's end on is refused. */
static void test_segments(void **state)
{
    (void)state;
    Dataset d;
    TuBuilt md;
    load_text(&d, &md, tagger_src, "1 0 1 0 1\t1 2 3 1 2\n0 0\t3 3\n1 1 1 1\t2 2 2 2\n");
    DataSplit tr, ev;
    assert_int_equal(data_split(&d, 0, 3, 5, &tr, &ev, err, sizeof err), 0);
    static const struct {
        int64_t t0, n;
        int64_t x[6], y[6];
        float mask[6];
        double weight;
    } seg[] = {
        {0, 2, {1, 3, 2, 2, 3, 2}, {1, 0, 1, 0, 0, 1}, {1, 1, 1, 1, 1, 1}, 6},
        {2, 2, {3, 0, 2, 1, 0, 2}, {1, 0, 1, 0, 0, 1}, {1, 0, 1, 1, 0, 1}, 4},
        {4, 1, {2, 0, 0}, {1, 0, 0}, {1, 0, 0}, 1},
    };
    for (int k = 0; k < 3; k++) {
        TensorMap out;
        rt_map_init(&out);
        assert_int_equal(data_batch(&d, &tr, NULL, 0, seg[k].t0, seg[k].n, &out, err, sizeof err), 0);
        assert_i64(rt_map_get(&out, "tokens"), seg[k].x, 3 * seg[k].n);
        assert_i64(rt_map_get(&out, "y"), seg[k].y, 3 * seg[k].n);
        const Tensor *m = rt_map_get(&out, "tokens.len");
        assert_int_equal(m->dtype, RT_F32);
        assert_int_equal(m->rank, 3);
        assert_int_equal(m->shape[0], seg[k].n);
        assert_memory_equal(m->data, seg[k].mask, (size_t)(3 * seg[k].n) * sizeof(float));
        assert_true(data_loss_weight(&d, &tr, NULL, 0, seg[k].t0, seg[k].n) == seg[k].weight);
        rt_map_free(&out);
    }
    /* the whole batch still gives the lengths */
    TensorMap out;
    rt_map_init(&out);
    assert_int_equal(data_batch(&d, &tr, NULL, 0, 0, 5, &out, err, sizeof err), 0);
    int64_t lens[3] = {5, 2, 4};
    assert_i64(rt_map_get(&out, "tokens.len"), lens, 3);
    rt_map_free(&out);
    assert_int_equal(data_batch(&d, &tr, NULL, 0, 5, 0, &out, err, sizeof err), -1);
    /* a batch of examples 1 and 2 (perm) has 4 steps: [4, 5) is past it */
    int64_t perm[3] = {1, 2, 0};
    DataSplit two = tr;
    two.batch = 2;
    two.nbatches = 1;
    assert_int_equal(data_batch(&d, &two, perm, 0, 4, 1, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "out of range"));
    data_free(&d);
    tu_built_free(&md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_classifier),  cmocka_unit_test(test_text_tagger_and_number_ids),
        cmocka_unit_test(test_csv_examples),     cmocka_unit_test(test_npy_lengths),
        cmocka_unit_test(test_segments),         cmocka_unit_test(test_npy_two_lengths),
        cmocka_unit_test(test_text_seq2seq),     cmocka_unit_test(test_bucketing),
        cmocka_unit_test(test_padding_fraction), cmocka_unit_test(test_accuracy_over_real_steps),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
