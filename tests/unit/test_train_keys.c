/* test_train_keys.c - the table of train settings (frontend/train_keys.c)
 * and the "did you mean" helper (frontend/suggest.c): the table's shape,
 * the checker's verdicts and messages, edit distances and suggestions,
 * and that docs/training.md's table of settings is this table, row for
 * row, so the docs cannot drift from the code.  Reads the docs relative
 * to the repository root, where tests/run_all.sh runs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "frontend/suggest.h"
#include "frontend/train_keys.h"
#include "test_util.h"

/* ---- the suggestion helper ----------------------------------------------------- */

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(edit_distance("", ""), 0);
    assert_int_equal(edit_distance("epochs", "epochs"), 0);
    assert_int_equal(edit_distance("epoch", "epochs"), 1);   /* insertion */
    assert_int_equal(edit_distance("epochss", "epochs"), 1); /* deletion */
    assert_int_equal(edit_distance("batck", "batch"), 1);    /* substitution */
    assert_int_equal(edit_distance("tbtpt", "tbptt"), 1);    /* two neighbours swapped */
    assert_int_equal(edit_distance("kitten", "sitting"), 3);
    assert_int_equal(edit_distance("", "lr"), 2);
    assert_int_equal(edit_distance("abc", ""), 3);
    assert_int_equal(edit_distance("ca", "abc"), 3); /* OSA: no edit of a swapped pair */
    char big[SUGGEST_MAX_LEN + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_true(edit_distance(big, "a") > 1000); /* too long: far from everything */
}

static const char *nearest(const char *word)
{
    static const char *const names[] = {"seq_len", "epochs", "steps", "eval", "eval_every", "lr"};
    Suggest sg;
    suggest_init(&sg, word);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) suggest_add(&sg, names[i]);
    return suggest_best(&sg);
}

static void test_suggest(void **state)
{
    (void)state;
    assert_string_equal(nearest("epoch"), "epochs");
    assert_string_equal(nearest("seqlen"), "seq_len");
    assert_string_equal(nearest("eval_evry"), "eval_every");
    assert_string_equal(nearest("evl"), "eval");
    assert_string_equal(nearest("lr"), "lr"); /* exact */
    assert_string_equal(nearest("step"), "steps");
    assert_null(nearest("learning_rate")); /* nothing near: no guess */
    assert_null(nearest("xy"));
    assert_null(nearest(""));
    /* A tie goes to the first candidate offered. */
    Suggest sg;
    suggest_init(&sg, "ab");
    suggest_add(&sg, "ac");
    suggest_add(&sg, "ad");
    assert_string_equal(suggest_best(&sg), "ac");
    /* No candidates at all. */
    suggest_init(&sg, "ab");
    assert_null(suggest_best(&sg));
}

/* ---- the table ------------------------------------------------------------------- */

static void test_table_shape(void **state)
{
    (void)state;
    for (int i = 0; i < TK_COUNT; i++) {
        const TrainKey *k = &train_keys[i];
        assert_int_equal(k->id, i);
        assert_non_null(k->name);
        assert_true(k->doc && k->doc[0]);
        assert_ptr_equal(train_key_find(k->name), k);
        for (int j = 0; j < i; j++) assert_string_not_equal(train_keys[j].name, k->name);
        if (k->kind == TV_INT || k->kind == TV_NUMBER) {
            assert_null(k->forms); /* the range says it */
            assert_true(k->min < k->max);
            /* A default that is a value must be a valid one (0 = "not set" aside). */
            if (!k->def_doc && k->def != 0) assert_true(k->def >= k->min && k->def <= k->max);
        } else {
            assert_non_null(k->def_doc); /* no number to show */
            assert_non_null(k->forms);
        }
    }
    assert_null(train_key_find("epoch"));
    for (size_t i = 0; i < sizeof train_optimizers / sizeof train_optimizers[0]; i++) {
        const TrainOptimizer *o = &train_optimizers[i];
        assert_ptr_equal(train_optimizer_find(o->name), o);
        assert_int_equal(o->args[0].id, TOA_LR); /* the one that may be unnamed */
        for (int j = 0; j < o->nargs; j++) assert_ptr_equal(train_opt_arg_find(o, o->args[j].name), &o->args[j]);
    }
    assert_null(train_optimizer_find("rmsprop"));
    char buf[64];
    train_key_default_text(train_key_find("batch"), buf, sizeof buf);
    assert_string_equal(buf, "1");
    train_key_default_text(train_key_find("clip"), buf, sizeof buf);
    assert_string_equal(buf, "none");
    train_key_value_text(train_key_find("batch"), buf, sizeof buf);
    assert_string_equal(buf, "a positive integer");
    train_key_value_text(train_key_find("seed"), buf, sizeof buf);
    assert_string_equal(buf, "a non-negative integer");
    train_key_value_text(train_key_find("lr"), buf, sizeof buf);
    assert_string_equal(buf, "a positive number");
    train_key_value_text(train_key_find("eval"), buf, sizeof buf);
    assert_string_equal(buf, "a number in [0, 1)");
}

static void test_unknown_key_message(void **state)
{
    (void)state;
    char msg[512];
    train_key_unknown("epoch", msg, sizeof msg);
    assert_string_equal(msg, "unknown train setting 'epoch'; did you mean 'epochs'?");
    train_key_unknown("optimiser", msg, sizeof msg);
    assert_string_equal(msg, "unknown train setting 'optimiser'; did you mean 'optimizer'?");
    train_key_unknown("learning_rate", msg, sizeof msg);
    /* Nothing near: every key, in the table's order. */
    char want[512] = "unknown train setting 'learning_rate'; the settings are";
    for (int i = 0; i < TK_COUNT; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s %s", i ? "," : "", train_keys[i].name);
    assert_string_equal(msg, want);
    /* A short buffer truncates, never overflows. */
    char small[16];
    train_key_unknown("learning_rate", small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

/* The checker's verdict and message for "key = value", parsed as a train
 * block; *col receives the column of the message's place. */
static int check(const char *setting, char *msg, size_t n, int *col)
{
    char src[512];
    snprintf(src, sizeof src, "train m {\n%s\n}\n", setting);
    Diag d;
    FILE *sink = fopen("/dev/null", "w");
    diag_init(&d, "t.rnn", src, sink);
    Program *p = parse_program("t.rnn", src, &d);
    assert_non_null(p);
    assert_int_equal(diag_errors(&d), 0);
    const Stmt *st = p->decls[0]->body[0];
    const TrainKey *k = train_key_find(st->names[0]);
    assert_non_null(k);
    SrcLoc at = {0, 0, 1};
    msg[0] = 0;
    int rc = train_key_check(k, st->value, &at, msg, n);
    *col = at.col;
    ast_free(p);
    fclose(sink);
    return rc;
}

static void test_checker(void **state)
{
    (void)state;
    static const struct {
        const char *setting, *msg;
        int col;
    } cases[] = {
        {"batch = 4", NULL, 0},
        {"seed = 0", NULL, 0},
        {"eval = 0", NULL, 0},
        {"eval = 0.99", NULL, 0},
        {"clip = none", NULL, 0},
        {"clip = value(0.5)", NULL, 0},
        {"optimizer = sgd", NULL, 0},
        {"optimizer = adam(0.01, beta1=0.8, beta2=0.9, eps=0, weight_decay=0.1)", NULL, 0},
        {"data = npy(x=\"a.npy\", y=\"b.npy\")", NULL, 0},
        {"batch = -3", "'batch' must be a positive integer", 9},
        {"batch = 2000000000000000", "'batch' must be a positive integer", 9},
        {"steps = 1e16", "'steps' must be a positive integer", 9},
        {"seed = 1.0", "'seed' must be a non-negative integer", 8},
        {"lr = 0", "'lr' must be a positive number", 6},
        {"eval = -0.5", "'eval' must be a number in [0, 1)", 8},
        {"clip = value(0)", "'clip' must be positive", 14},
        {"clip = norm(x)", "norm(...) takes one number", 13},
        {"clip = -2", "'clip' must be positive", 8},
        {"clip = foo(1)", "'clip' must be norm(N), value(V), a number or none", 8},
        {"optimizer = adam(lr=0.1, betas=0.9)",
         "unknown argument 'betas' of adam(...) (lr, beta1, beta2, eps, weight_decay)", 26},
        {"optimizer = sgd(lr=\"fast\")", "sgd(...) takes numbers as arguments", 20},
        {"optimizer = sgd(momentum=-0.1)", "'momentum' of sgd(...) must be a non-negative number", 26},
        {"data = text(\"a\", \"b\")", "text(...) takes one file name in quotes", 8},
        {"data = npy(x=1)", "npy(...) takes NAME=\"file.npy\" arguments, one for each input and target", 14},
        {"data = sql(\"x\")", "unknown data source 'sql': expected text(...), csv(...) or npy(...)", 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[512];
        int col;
        int rc = check(cases[i].setting, msg, sizeof msg, &col);
        if (!cases[i].msg) {
            if (rc) fail_msg("'%s': refused: %s", cases[i].setting, msg);
            continue;
        }
        if (rc != -1 || strcmp(msg, cases[i].msg) || col != cases[i].col)
            fail_msg("'%s': got %d '%s' at column %d, want '%s' at column %d", cases[i].setting, rc, msg, col,
                     cases[i].msg, cases[i].col);
    }
}

/* ---- the docs -------------------------------------------------------------------- */

/* docs/training.md's table of settings (the rows "| `key` | ... |" under
 * "### Settings") holds each key of the table as the row
 *     | `KEY` | VALUE | MEANING | DEFAULT |
 * and no key the table does not have. */
static void test_docs_list_every_key(void **state)
{
    (void)state;
    size_t len;
    char *md = (char *)tu_read_file("docs/training.md", &len);
    if (!md) fail_msg("cannot read docs/training.md (run the test from the repository root)");
    char *sec = strstr(md, "\n### Settings\n");
    assert_non_null(sec);
    char *end = strstr(sec + 1, "\n#");
    if (end) *end = 0;
    for (int i = 0; i < TK_COUNT; i++) {
        const TrainKey *k = &train_keys[i];
        char def[128], value[256], row[1024];
        train_key_default_text(k, def, sizeof def);
        train_key_value_text(k, value, sizeof value);
        snprintf(row, sizeof row, "\n| `%s` | %s | %s | %s |\n", k->name, value, k->doc, def);
        if (!strstr(sec, row))
            fail_msg("docs/training.md, Settings: no row for '%s' as the table has it:%s", k->name, row);
    }
    /* Every row names a key of the table. */
    for (char *line = strstr(sec, "\n| `"); line; line = strstr(line + 1, "\n| `")) {
        char name[64];
        if (sscanf(line, "\n| `%63[^`]`", name) != 1) continue;
        if (!train_key_find(name))
            fail_msg("docs/training.md, Settings: row for '%s', which is no train setting", name);
    }
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edit_distance), cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_table_shape),   cmocka_unit_test(test_unknown_key_message),
        cmocka_unit_test(test_checker),       cmocka_unit_test(test_docs_list_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
