/* test_train_config.c - the settings of `rnnc train` (driver/train_config.c):
 * a train block's settings, --set overrides parsed like the language, the
 * defaults, and the messages for bad values; and that sema (`rnnc check`)
 * and --set accept exactly the same values, since both check them with
 * the table of frontend/train_keys.h.  The driver file is not in
 * librnnc.a, so it is compiled into this test directly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "driver/train_config.c"

#include <sys/stat.h>
#include "frontend/sema.h"

static char err[1024];
static const char *block_file = "t.rnn"; /* the model file's name from_block gives */

/* The settings of the train block of `src` (parsed and checked by sema).
 * Returns the number of sema errors. */
static int from_block(const char *src, TrainSettings *ts)
{
    Diag d;
    FILE *sink = fopen("/dev/null", "w");
    diag_init(&d, "t.rnn", src, sink);
    Program *p = parse_program("t.rnn", src, &d);
    assert_non_null(p);
    IrModule *m = sema_build(p, NULL, &d);
    int errors = diag_errors(&d);
    train_settings_default(ts);
    if (!errors) {
        const Decl *t = NULL;
        for (int i = 0; i < p->ndecls; i++)
            if (p->decls[i]->kind == DECL_TRAIN) t = p->decls[i];
        assert_int_equal(train_settings_block(ts, t, block_file, err, sizeof err), 0);
    }
    if (m) ir_free(m);
    ast_free(p);
    fclose(sink);
    return errors;
}

#define MODEL                                                                                   \
    "model c {\n input x : seq<int>\n target y : seq<int>\n e = embedding(x, vocab=5, dim=2)\n" \
    " z = dense(e, 5)\n loss = cross_entropy(z, y)\n}\n"

/* A block's relative data file names are relative to the model file's
 * folder (rnnc train works from any folder); absolute ones stay, and so
 * does an override's, which is relative to the current directory. */
static void test_data_paths_relative_to_model(void **state)
{
    (void)state;
    static const struct {
        const char *file, *data, *want;
    } cases[] = {
        {"t.rnn", "text(\"a.txt\")", "a.txt"},
        {"m/sub/t.rnn", "text(\"a.txt\")", "m/sub/a.txt"},
        {"m/t.rnn", "csv(\"../d/a.csv\")", "m/../d/a.csv"},
        {"m/t.rnn", "\"/abs/a.txt\"", "/abs/a.txt"},
        {"/t.rnn", "text(\"a.txt\")", "/a.txt"},
    };
    TrainSettings ts;
    char src[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        block_file = cases[i].file;
        snprintf(src, sizeof src, MODEL "train c {\n data = %s\n}\n", cases[i].data);
        assert_int_equal(from_block(src, &ts), 0);
        assert_string_equal(ts.data_path, cases[i].want);
    }
    block_file = "m/sub/t.rnn";
    assert_int_equal(from_block(MODEL "train c {\n data = npy(x=\"x.npy\", y=\"/y.npy\")\n}\n", &ts), 0);
    assert_string_equal(ts.data_paths[0], "m/sub/x.npy");
    assert_string_equal(ts.data_paths[1], "/y.npy");
    assert_string_equal(ts.data_note, "m/sub/t.rnn:9:2: a train block's file name is relative to the model "
                                      "file's folder, m/sub, or else to the current directory");
    assert_int_equal(ts.data_fell_back, 0);
    assert_int_equal(train_settings_set(&ts, "data=text(\"b.txt\")", err, sizeof err), 0);
    assert_string_equal(ts.data_path, "b.txt");
    assert_string_equal(ts.data_note, "--set data: relative to the current directory");
    block_file = "t.rnn";
}

/* A name not found beside the model but found in the current directory
 * (where models written before the rule named their files from) is read
 * from there, and data_fell_back says so; found beside the model, that
 * one wins.  In a scratch folder made the current directory. */
static void test_data_path_fallback(void **state)
{
    (void)state;
    char old[4096], dir[] = "/tmp/rnnc_tc.XXXXXX";
    assert_non_null(getcwd(old, sizeof old));
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(mkdir("m", 0700), 0);
    FILE *f = fopen("a.txt", "w");
    assert_non_null(f);
    fclose(f);
    TrainSettings ts;
    block_file = "m/t.rnn";
    assert_int_equal(from_block(MODEL "train c {\n data = text(\"a.txt\")\n}\n", &ts), 0);
    assert_string_equal(ts.data_path, "a.txt");
    assert_int_equal(ts.data_fell_back, 1);
    assert_non_null(f = fopen("m/a.txt", "w"));
    fclose(f);
    assert_int_equal(from_block(MODEL "train c {\n data = text(\"a.txt\")\n}\n", &ts), 0);
    assert_string_equal(ts.data_path, "m/a.txt");
    assert_int_equal(ts.data_fell_back, 0);
    block_file = "t.rnn";
    assert_int_equal(remove("m/a.txt") | remove("a.txt") | rmdir("m"), 0);
    assert_int_equal(chdir(old), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_block_settings(void **state)
{
    (void)state;
    TrainSettings ts;
    assert_int_equal(from_block(MODEL "train c {\n data = text(\"a.txt\")\n seq_len = 20 tbptt = 5 batch = 3\n"
                                      " optimizer = sgd(lr=0.5, momentum=0.9) clip = value(2)\n"
                                      " epochs = 4 eval = 0.25 seed = 7 checkpoint_every = 100\n}\n",
                                &ts),
                     0);
    assert_int_equal(ts.data_kind, DATA_TEXT);
    assert_string_equal(ts.data_path, "a.txt");
    assert_int_equal(ts.seq_len, 20);
    assert_int_equal(ts.tbptt, 5);
    assert_int_equal(ts.batch, 3);
    assert_int_equal(ts.epochs, 4);
    assert_int_equal(ts.seed, 7);
    assert_int_equal(ts.checkpoint_every, 100);
    assert_int_equal(ts.opt.opt, OPT_SGD);
    assert_true(ts.opt.lr == 0.5 && ts.opt.momentum == 0.9); /* exact: parsed decimal literals */
    assert_int_equal(ts.opt.clip, CLIP_VALUE);
    assert_true(ts.opt.clip_value == 2);
    assert_true(ts.eval == 0.25);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), 0);
}

static void test_sema_checks_eval_fraction(void **state)
{
    (void)state;
    TrainSettings ts;
    assert_int_equal(from_block(MODEL "train c { eval = 0.1 }\n", &ts), 0);
    assert_int_equal(from_block(MODEL "train c { eval = 1.5 }\n", &ts), 1);
}

static void test_set_overrides(void **state)
{
    (void)state;
    TrainSettings ts;
    train_settings_default(&ts);
    assert_int_equal(train_settings_set(&ts, "epochs=3", err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "optimizer=adam(0.01, beta2=0.99)", err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "data=npy(x=\"a.npy\", y=\"b.npy\")", err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "clip=norm(1.5)", err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "steps=10", err, sizeof err), 0); /* the last of steps/epochs wins */
    assert_int_equal(ts.epochs, 0);
    assert_int_equal(ts.steps, 10);
    assert_int_equal(ts.opt.opt, OPT_ADAM);
    assert_true(ts.opt.lr == 0.01 && ts.opt.beta2 == 0.99 && ts.opt.beta1 == 0.9);
    assert_int_equal(ts.opt.clip, CLIP_NORM);
    assert_int_equal(ts.data_kind, DATA_NPY);
    assert_int_equal(ts.ndata, 2);
    assert_string_equal(ts.data_names[1], "y");
    assert_string_equal(ts.data_paths[1], "b.npy");
    assert_int_equal(train_settings_set(&ts, "clip=none", err, sizeof err), 0);
    assert_int_equal(ts.opt.clip, CLIP_NONE);
    /* A top-level lr overrides the optimizer's. */
    assert_int_equal(train_settings_set(&ts, "lr=0.5", err, sizeof err), 0);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), 0);
    assert_true(ts.opt.lr == 0.5);
    /* A bare .csv file name is csv data. */
    assert_int_equal(train_settings_set(&ts, "data=\"s.csv\"", err, sizeof err), 0);
    assert_int_equal(ts.data_kind, DATA_CSV);
}

static void test_set_errors(void **state)
{
    (void)state;
    TrainSettings ts;
    train_settings_default(&ts);
    static const struct {
        const char *kv, *msg;
    } cases[] = {
        {"bogus=1", "--set bogus: unknown train setting 'bogus'; the settings are data, seq_len, tbptt,"},
        {"epoch=3", "--set epoch: unknown train setting 'epoch'; did you mean 'epochs'?"},
        {"eval_evry=3", "did you mean 'eval_every'?"},
        {"batch=0", "--set batch: 'batch' must be a positive integer"},
        {"batch=2.5", "'batch' must be a positive integer"},
        {"seed=-1", "'seed' must be a non-negative integer"},
        {"eval_every=-2", "'eval_every' must be a non-negative integer"},
        {"eval=1", "'eval' must be a number in [0, 1)"},
        {"eval=\"held.txt\"", "'eval' must be a number in [0, 1)"},
        {"lr=0", "'lr' must be a positive number"},
        {"optimizer=rmsprop(0.1)", "unknown optimizer"},
        {"optimizer=sgd(lr=0.1, beta1=0.9)", "unknown argument 'beta1' of sgd(...) (lr, momentum, weight_decay)"},
        {"optimizer=adam(lr=-1)", "'lr' of adam(...) must be a positive number"},
        {"optimizer=adam(0.1, lr=0.2)", "adam(...) is given 'lr' twice"},
        {"optimizer=adam(beta2=1)", "'beta2' of adam(...) must be a number in [0, 1)"},
        {"optimizer=sgd(0.1, 0.9)", "only the first argument of sgd(...) may be unnamed"},
        {"clip=norm(-1)", "'clip' must be positive"},
        {"clip=off", "'clip' must be norm(N), value(V), a number or none"},
        {"clip=norm(1, 2)", "norm(...) takes one number"},
        {"data=npy(x=\"a.npy\", x=\"b.npy\")", "npy(...) names 'x' twice"},
        {"data=parquet(\"x\")", "unknown data source 'parquet'"},
        {"noequals", "--set needs key=value"},
        {"lr=(((", "cannot parse"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        assert_int_equal(train_settings_set(&ts, cases[i].kv, err, sizeof err), -1);
        if (!strstr(err, cases[i].msg)) fail_msg("--set %s: got '%s', want '%s'", cases[i].kv, err, cases[i].msg);
    }
    /* No data at all, and tbptt longer than seq_len. */
    train_settings_default(&ts);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), -1);
    assert_non_null(strstr(err, "no training data"));
    assert_int_equal(train_settings_set(&ts, "data=text(\"a\")", err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "seq_len=4", err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "tbptt=8", err, sizeof err), 0);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), -1);
    assert_non_null(strstr(err, "tbptt = 8 is longer than seq_len = 4"));
    /* tbptt_back: at least tbptt, at most seq_len, only with tbptt */
    assert_int_equal(train_settings_set(&ts, "tbptt=2", err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "tbptt_back=1", err, sizeof err), 0);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), -1);
    assert_non_null(strstr(err, "tbptt_back = 1 is shorter than tbptt = 2"));
    assert_int_equal(train_settings_set(&ts, "tbptt_back=5", err, sizeof err), 0);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), -1);
    assert_non_null(strstr(err, "tbptt_back = 5 is longer than seq_len = 4"));
    assert_int_equal(train_settings_set(&ts, "tbptt_back=0", err, sizeof err), -1);
    assert_non_null(strstr(err, "--set tbptt_back: 'tbptt_back' must be a positive integer"));
    assert_int_equal(train_settings_set(&ts, "tbptt_back=4", err, sizeof err), 0);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), 0);
    assert_int_equal(ts.tbptt_back, 4);
    {
        TrainSettings t2;
        train_settings_default(&t2);
        assert_int_equal(train_settings_set(&t2, "data=text(\"a\")", err, sizeof err), 0);
        assert_int_equal(train_settings_set(&t2, "tbptt_back=3", err, sizeof err), 0);
        assert_int_equal(train_settings_finish(&t2, err, sizeof err), -1);
        assert_non_null(strstr(err, "tbptt_back = 3 needs tbptt"));
    }
    /* eval_every needs something to evaluate on; 0 turns it off again. */
    assert_int_equal(train_settings_set(&ts, "tbptt=4", err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "eval_every=5", err, sizeof err), 0);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), -1);
    assert_non_null(strstr(err, "eval_every = 5 needs a held-out part to evaluate on: set eval = FRACTION"));
    assert_int_equal(train_settings_set(&ts, "eval_every=0", err, sizeof err), 0);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "eval_every=5", err, sizeof err), 0);
    assert_int_equal(train_settings_set(&ts, "eval=0.2", err, sizeof err), 0);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), 0);
    assert_int_equal(ts.eval_every, 5);
}

/* The defaults are the table's. */
static void test_defaults(void **state)
{
    (void)state;
    TrainSettings ts;
    train_settings_default(&ts);
    assert_int_equal(ts.batch, 1);
    assert_int_equal(ts.log_every, 10);
    assert_int_equal(ts.seed, 0);
    assert_int_equal(ts.eval_every, 0);
    assert_int_equal(ts.checkpoint_every, 0);
    assert_true(ts.eval == 0 && ts.lr == 0);
    assert_int_equal(ts.opt.opt, OPT_ADAM);
    assert_int_equal(ts.opt.clip, CLIP_NONE);
    assert_int_equal(ts.batch, (int64_t)train_key_find("batch")->def);
    assert_int_equal(ts.log_every, (int64_t)train_key_find("log_every")->def);
}

/* In a block: clip = none, eval_every, and the message of a bad value
 * points at the value (file:line:col). */
static void test_block_clip_none_and_eval_every(void **state)
{
    (void)state;
    TrainSettings ts;
    assert_int_equal(
        from_block(MODEL "train c {\n data = \"a.txt\"\n clip = none\n eval = 0.1\n eval_every = 7\n}\n", &ts), 0);
    assert_int_equal(ts.opt.clip, CLIP_NONE);
    assert_int_equal(ts.eval_every, 7);
    assert_int_equal(train_settings_finish(&ts, err, sizeof err), 0);
    /* The driver's own message for a block (sema reports it first in rnnc). */
    const char *src = MODEL "train c {\n batch = 0\n}\n";
    Diag d;
    FILE *sink = fopen("/dev/null", "w");
    diag_init(&d, "t.rnn", src, sink);
    Program *p = parse_program("t.rnn", src, &d);
    assert_non_null(p);
    train_settings_default(&ts);
    assert_int_equal(train_settings_block(&ts, p->decls[1], "t.rnn", err, sizeof err), -1);
    assert_string_equal(err, "t.rnn:9:10: 'batch' must be a positive integer");
    ast_free(p);
    fclose(sink);
}

/* Every value is accepted by sema in a block exactly when --set accepts it. */
static void test_sema_and_set_agree(void **state)
{
    (void)state;
    static const char *const kvs[] = {
        "clip = none",
        "clip = 5",
        "clip = norm(5.0)",
        "clip = value(0.5)",
        "clip = 0",
        "clip = off",
        "clip = value()",
        "clip = norm(-1)",
        "eval_every = 10",
        "eval_every = 0",
        "eval_every = 1.5",
        "eval = 0.5",
        "eval = 1",
        "eval = \"x.txt\"",
        "eval = text(\"x.txt\")",
        "epochs = 0",
        "steps = 1e3",
        "seed = 0",
        "seed = -1",
        "batch = 2000000000000000",
        "checkpoint_every = 0",
        "log_every = 0",
        "lr = 1e-3",
        "lr = -1",
        "optimizer = adam",
        "optimizer = sgd(0.1)",
        "optimizer = sgd(lr=0.1, momentum=0.9, weight_decay=1e-4)",
        "optimizer = sgd(lr=0.1, eps=1)",
        "optimizer = adam(beta1=1)",
        "optimizer = adam(lr=\"x\")",
        "optimizer = adam(0.1, 0.2)",
        "data = \"x.txt\"",
        "data = text(\"x.txt\")",
        "data = csv(1)",
        "data = parquet(\"x\")",
        "data = npy(x=\"a.npy\")",
        "data = npy(\"a.npy\")",
        "data = 3",
        "epoch = 3",
        "tbptt = 8",
    };
    for (size_t i = 0; i < sizeof kvs / sizeof kvs[0]; i++) {
        char src[1024];
        snprintf(src, sizeof src, MODEL "train c {\n %s\n}\n", kvs[i]);
        Diag d;
        FILE *sink = fopen("/dev/null", "w");
        diag_init(&d, "t.rnn", src, sink);
        Program *p = parse_program("t.rnn", src, &d);
        assert_non_null(p);
        int sema_ok = sema_check(p, &d) == 0;
        ast_free(p);
        fclose(sink);
        TrainSettings ts;
        train_settings_default(&ts);
        int set_ok = train_settings_set(&ts, kvs[i], err, sizeof err) == 0;
        if (sema_ok != set_ok)
            fail_msg("'%s': sema %s it, --set %s it (%s)", kvs[i], sema_ok ? "accepts" : "refuses",
                     set_ok ? "accepts" : "refuses", set_ok ? "" : err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_settings),     cmocka_unit_test(test_sema_checks_eval_fraction),
        cmocka_unit_test(test_set_overrides),      cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_defaults),           cmocka_unit_test(test_block_clip_none_and_eval_every),
        cmocka_unit_test(test_sema_and_set_agree), cmocka_unit_test(test_data_paths_relative_to_model),
        cmocka_unit_test(test_data_path_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
