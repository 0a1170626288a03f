/* test_loss_log.c - `rnnc train`'s logs and loss chart (driver/loss_log.c):
 * the eval log beside the loss CSV, the chart's eval curve and its log
 * axis (train setting plot_log), and a resumed run's kept eval rows. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/loss_log.c"
#include "driver/svg_plot.c"
#include "tests/unit/test_util.h"

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

/* A loss CSV of 40 steps whose loss falls from 3 to 0.03 (two decades)
 * and, if eval, an eval log of 4 evaluations; the chart drawn from them. */
static char *chart(int eval, int log_y)
{
    char csv[300], ev[300], svg[300], err[256];
    tu_tmp_path(csv, sizeof csv, "m.loss.csv");
    tu_tmp_path(ev, sizeof ev, "m.eval.csv");
    tu_tmp_path(svg, sizeof svg, "m.loss.svg");
    FILE *f = loss_log_open(csv, NULL, 0, 0, err, sizeof err);
    assert_non_null(f);
    for (int s = 1; s <= 40; s++) loss_log_row(f, s, 3 * pow(0.01, (s - 1) / 39.0), 1.5, NAN);
    fclose(f);
    remove(ev);
    if (eval) {
        f = loss_log_open_eval(ev, NULL, 0, 1, err, sizeof err);
        assert_non_null(f);
        for (int s = 10; s <= 40; s += 10) loss_log_eval_row(f, s, 4 * pow(0.01, s / 40.0), 0.25 + s / 100.0);
        fclose(f);
    }
    assert_int_equal(loss_log_svg(csv, ev, svg, "m", log_y, err, sizeof err), 0);
    size_t len;
    char *out = (char *)tu_read_file(svg, &len);
    assert_non_null(out);
    return out;
}

static void test_eval_curve(void **state)
{
    (void)state;
    char *svg = chart(1, 0);
    assert_int_equal(count(svg, "<polyline"), 2);
    assert_int_equal(count(svg, ">train loss</text>"), 1);
    assert_int_equal(count(svg, ">eval loss</text>"), 1);
    assert_int_equal(count(svg, "<circle"), 40 + 4); /* every point of both curves */
    assert_null(strstr(svg, "log scale"));
    free(svg);
    /* no eval log (a run without eval data): the train curve alone */
    svg = chart(0, 0);
    assert_int_equal(count(svg, "<polyline"), 1);
    assert_null(strstr(svg, "eval loss"));
    free(svg);
}

static void test_log_axis(void **state)
{
    (void)state;
    char *svg = chart(1, 1);
    assert_int_equal(count(svg, "<polyline"), 2);
    assert_non_null(strstr(svg, "loss (log scale)"));
    /* losses 0.03 .. 3.3: the axis spans the whole decades 0.01 .. 10
     * (the y axis's labels are right-aligned: "end") */
    const char *ticks[] = {"end\">0.01</text>", "end\">0.1</text>", "end\">1</text>", "end\">10</text>"};
    for (int i = 0; i < 4; i++) assert_int_equal(count(svg, ticks[i]), 1);
    free(svg);
    /* the linear axis has no such ticks: 0.01 is below its first tick 0 */
    svg = chart(1, 0);
    assert_null(strstr(svg, "end\">0.01</text>"));
    free(svg);
}

/* A resumed run (keep_upto = 20) keeps the eval rows up to its step and
 * the header with the accuracy column. */
static void test_eval_resume(void **state)
{
    (void)state;
    char old[300], now[300], err[256];
    tu_tmp_path(old, sizeof old, "r.eval.csv");
    tu_tmp_path(now, sizeof now, "r2.eval.csv");
    FILE *f = loss_log_open_eval(old, NULL, 0, 1, err, sizeof err);
    assert_non_null(f);
    for (int s = 10; s <= 30; s += 10) loss_log_eval_row(f, s, 1.0 / s, 0.5);
    fclose(f);
    f = loss_log_open_eval(now, old, 20, 1, err, sizeof err);
    assert_non_null(f);
    loss_log_eval_row(f, 25, 0.125, NAN);
    fclose(f);
    size_t len;
    char *got = (char *)tu_read_file(now, &len);
    assert_string_equal(got, "step,eval_loss,eval_accuracy\n10,0.1,0.5\n20,0.05,0.5\n25,0.125\n");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_curve),
        cmocka_unit_test(test_log_axis),
        cmocka_unit_test(test_eval_resume),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
