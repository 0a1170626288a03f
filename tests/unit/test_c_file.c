/* test_c_file.c - the pieces of `rnnc compile` that are checked without a
 * C compiler (tests/deploy/run.sh compiles and runs the files):
 *   (the modules it holds are the recipes', tests/unit/test_pipeline.c)
 *   - the file (target/c/c_file.c): the API names for the prefix, no step
 *     or training functions where there are none, the header split, no
 *     sequence maximum in the text, and the errors (a prefix that is not a
 *     C identifier, embedded weights of the wrong shape). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/c/c_file.h"
#include "passes/pipeline.h"
#include "io/tensor.h"
#include "tests/unit/test_models.h"
#include "tests/unit/test_util.h"

/* Writes the C file of src with the options; returns its text (and the
 * header's in *htext when wanted), or NULL with err set. */
static char *write_file(const char *src, const CFileOptions *o, int step, int train, char **htext, char *err,
                        size_t errlen)
{
    TuBuilt f = tu_build(src), s = tu_build(src), t = tu_build(src);
    TrainConfig cfg = train_config_default();
    PipeOpts po = {.optimize = 1};
    assert_int_equal(pipeline_forward(f.m, 0, &po, err, errlen), 0);
    if (step) assert_int_equal(pipeline_step(s.m, &po, err, errlen), 0);
    if (train) assert_int_equal(pipeline_train(t.m, &cfg, &po, err, errlen), 0);
    FILE *c = tmpfile(), *h = htext ? tmpfile() : NULL;
    assert_non_null(c);
    int rc = c_file_write(c, h, f.m, step ? s.m : NULL, train ? t.m : NULL, o, err, errlen);
    char *text = tu_read_stream(c);
    if (h) *htext = tu_read_stream(h);
    tu_built_free(&f);
    tu_built_free(&s);
    tu_built_free(&t);
    if (rc) {
        free(text);
        if (htext) free(*htext);
        return NULL;
    }
    return text;
}

static void test_file_api(void **state)
{
    (void)state;
    char err[512], *h = NULL;
    CFileOptions o = {.prefix = "fc", .source = "t.rnn", .header = "fc.h"};
    char *c = write_file(LSTM_SRC, &o, 1, 1, &h, err, sizeof err);
    assert_non_null(c);
    /* The declarations are in the header, the .c includes it. */
    assert_non_null(strstr(c, "#include \"fc.h\""));
    assert_non_null(strstr(h, "int fc_create(fc_model **model, const fc_sizes *max, char *err, size_t errlen);"));
    assert_non_null(strstr(h, "int fc_step(fc_model *m, int64_t batch, const fc_inputs *in, fc_outputs *out);"));
    assert_non_null(strstr(h, "int fc_train_step("));
    assert_non_null(strstr(h, "int64_t T_x;"));
    assert_null(strstr(c, "int fc_create(fc_model **model, const fc_sizes *max, char *err, size_t errlen);"));
    assert_non_null(strstr(c, "int fc_create(fc_model **model, const fc_sizes *max, char *err, size_t errlen)\n{"));
    assert_non_null(strstr(c, "static int fc_kernel_forward("));
    assert_non_null(strstr(c, "static int fc_kernel_step("));
    assert_non_null(strstr(c, "static int fc_kernel_train("));
    assert_non_null(strstr(c, "static int st_load("));
    /* The declared maximum length is nowhere: the caller's maxima size it. */
    assert_null(strstr(c, "77777"));
    assert_null(strstr(h, "77777"));
    free(c);
    free(h);

    /* No step for a bidirectional model, no training without --train;
     * without a header the declarations are in the .c. */
    o = (CFileOptions){.prefix = "bd", .source = "t.rnn"};
    c = write_file(BIDI_SRC, &o, 0, 0, NULL, err, sizeof err);
    assert_non_null(c);
    assert_non_null(strstr(c, "int bd_forward(bd_model *m, const bd_sizes *n, const bd_inputs *in, bd_outputs *out);"));
    assert_non_null(strstr(c, "const int64_t *w; /* i64[T_w, B] */"));
    assert_null(strstr(c, "bd_step("));
    assert_null(strstr(c, "bd_train_step("));
    free(c);
}

static void test_file_errors(void **state)
{
    (void)state;
    char err[512];
    CFileOptions o = {.prefix = "int", .source = "t.rnn"};
    assert_null(write_file(LSTM_SRC, &o, 0, 0, NULL, err, sizeof err));
    assert_non_null(strstr(err, "prefix 'int' is not a C identifier"));
    assert_false(c_is_identifier("9lives"));
    assert_false(c_is_identifier("a-b"));
    assert_true(c_is_identifier("_model2"));

    /* Embedded weights must be the model's: one of the wrong shape. */
    TensorMap w;
    rt_map_init(&w);
    Tensor t;
    int64_t shape[2] = {2, 2};
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, 2, shape), 0);
    assert_int_equal(rt_map_put(&w, "h.weight_ih_l0", &t), 0);
    o = (CFileOptions){.prefix = "m", .source = "t.rnn", .weights = &w};
    assert_null(write_file(LSTM_SRC, &o, 0, 0, NULL, err, sizeof err));
    assert_non_null(strstr(err, "h.weight_ih_l0"));
    rt_map_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_api),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
