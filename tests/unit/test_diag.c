/* test_diag.c - the exact text of diagnostics: `file:line:col: kind: msg`,
 * the source line, the caret and the ~ underline, tabs, UTF-8, notes,
 * whole-file messages and the error limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/diag.h"

/* A Diag writing into a memory buffer. */
typedef struct {
    Diag d;
    FILE *f;
    char *buf;
    size_t len;
} Capture;

static void cap_open(Capture *c, const char *src)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
    diag_init(&c->d, "m.rnn", src, c->f);
}

/* Close the stream and compare everything written with `want`. */
static void cap_check(Capture *c, const char *want)
{
    fclose(c->f);
    assert_string_equal(c->buf, want);
    free(c->buf);
}

static void test_error_caret_and_underline(void **state)
{
    (void)state;
    Capture c;
    cap_open(&c, "model m {\n  h = lstm(x, hidden=256)\n}\n");
    SrcLoc loc = {2, 7, 4};
    diag_error(&c.d, loc, "unknown layer '%s'", "lstm");
    assert_int_equal(c.d.nerrors, 1);
    assert_int_equal(c.d.nwarnings, 0);
    cap_check(&c, "m.rnn:2:7: error: unknown layer 'lstm'\n"
                  "  h = lstm(x, hidden=256)\n"
                  "      ^~~~\n");
}

static void test_warning_and_note(void **state)
{
    (void)state;
    Capture c;
    cap_open(&c, "a = 1\nb = 2\n");
    diag_warning(&c.d, (SrcLoc){2, 1, 1}, "unused value 'b'");
    diag_note(&c.d, (SrcLoc){1, 5, 1}, "defined from here");
    assert_int_equal(c.d.nerrors, 0);
    assert_int_equal(c.d.nwarnings, 1);
    cap_check(&c, "m.rnn:2:1: warning: unused value 'b'\n"
                  "b = 2\n"
                  "^\n"
                  "m.rnn:1:5: note: defined from here\n"
                  "a = 1\n"
                  "    ^\n");
}

/* Tabs are copied into the caret line so the caret stays under the token. */
static void test_tabs_kept(void **state)
{
    (void)state;
    Capture c;
    cap_open(&c, "\tx =\t$\n");
    diag_error(&c.d, (SrcLoc){1, 6, 1}, "invalid character '$'");
    cap_check(&c, "m.rnn:1:6: error: invalid character '$'\n"
                  "\tx =\t$\n"
                  "\t   \t^\n");
}

/* A multi-byte character is one column of the caret line. */
static void test_utf8_columns(void **state)
{
    (void)state;
    Capture c;
    cap_open(&c, "# caf\xc3\xa9 \xe2\x82\xac $\n");
    /* '$' is byte 13 but the 10th character on screen. */
    diag_error(&c.d, (SrcLoc){1, 13, 1}, "here");
    cap_check(&c, "m.rnn:1:13: error: here\n"
                  "# caf\xc3\xa9 \xe2\x82\xac $\n"
                  "         ^\n");
}

/* The underline never runs past the end of the line; CR of CRLF is not
 * printed. */
static void test_underline_clipped_and_crlf(void **state)
{
    (void)state;
    Capture c;
    cap_open(&c, "abc\r\nxyz\r\n");
    diag_error(&c.d, (SrcLoc){2, 2, 10}, "long");
    cap_check(&c, "m.rnn:2:2: error: long\n"
                  "xyz\n"
                  " ^~\n");
}

/* Line 0 is a whole-file message: no position, no source line. */
static void test_whole_file(void **state)
{
    (void)state;
    Capture c;
    cap_open(&c, "x");
    diag_error(&c.d, (SrcLoc){0, 0, 1}, "file is not valid UTF-8");
    cap_check(&c, "m.rnn: error: file is not valid UTF-8\n");
}

/* A position past the end of the text (end of file after the last
 * newline) prints the message without a source line, and no source at
 * all is fine too. */
static void test_past_end_and_no_source(void **state)
{
    (void)state;
    Capture c;
    cap_open(&c, "a\n");
    diag_error(&c.d, (SrcLoc){2, 1, 1}, "at end");
    diag_error(&c.d, (SrcLoc){9, 1, 1}, "far");
    cap_check(&c, "m.rnn:2:1: error: at end\nm.rnn:9:1: error: far\n");

    cap_open(&c, NULL);
    diag_error(&c.d, (SrcLoc){3, 4, 2}, "no text");
    cap_check(&c, "m.rnn:3:4: error: no text\n");
}

/* Past max_errors the errors are counted but not shown. */
static void test_error_limit(void **state)
{
    (void)state;
    Capture c;
    cap_open(&c, "x\n");
    c.d.max_errors = 2;
    for (int i = 0; i < 5; i++) diag_error(&c.d, (SrcLoc){0, 0, 1}, "e%d", i);
    diag_note(&c.d, (SrcLoc){0, 0, 1}, "hidden note");
    assert_int_equal(diag_errors(&c.d), 5);
    cap_check(&c, "m.rnn: error: e0\n"
                  "m.rnn: error: e1\n"
                  "m.rnn: note: too many errors; the rest are not shown\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_caret_and_underline),
        cmocka_unit_test(test_warning_and_note),
        cmocka_unit_test(test_tabs_kept),
        cmocka_unit_test(test_utf8_columns),
        cmocka_unit_test(test_underline_clipped_and_crlf),
        cmocka_unit_test(test_whole_file),
        cmocka_unit_test(test_past_end_and_no_source),
        cmocka_unit_test(test_error_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
