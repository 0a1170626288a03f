/* test_cli_hint.c - the hints of the command line's usage errors
 * (driver/cli_hint.c): a misspelt option or command suggests the nearest
 * name, a far one lists the valid names, a train setting written as an
 * option points to --set; a misspelt value of an option suggests the
 * nearest of its values.  The driver file is not in librnnc.a, so it is
 * compiled into this test directly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "driver/cli_hint.c"

static const CliOpt run_opts[] = {{"weights", 'w', 1, ""}, {"input", 'i', 1, ""}, {"engine", 0, 1, ""}, {0}};
static const CliOpt no_opts[] = {{0}};
static const Command run_cmd = {.name = "run", .opts = run_opts};
static const Command train_cmd = {.name = "train", .opts = run_opts};
static const Command check_cmd = {.name = "check", .opts = no_opts};

static void test_long_options(void **state)
{
    (void)state;
    char buf[512];
    cli_hint_long(&run_cmd, "weight", 6, buf, sizeof buf);
    assert_string_equal(buf, "; did you mean '--weights'?");
    cli_hint_long(&run_cmd, "engien=jit", 6, buf, sizeof buf); /* only the name before '=' */
    assert_string_equal(buf, "; did you mean '--engine'?");
    cli_hint_long(&run_cmd, "foo", 3, buf, sizeof buf);
    assert_string_equal(buf, "; the options of rnnc run are --weights (-w), --input (-i), --engine");
    cli_hint_long(&check_cmd, "foo", 3, buf, sizeof buf);
    assert_string_equal(buf, "; rnnc check takes no options");
    /* a setting of the train block is not an option of train ... */
    cli_hint_long(&train_cmd, "epochs", 6, buf, sizeof buf);
    assert_string_equal(buf, "; a train setting is given with --set: --set epochs=...");
    /* ... nor suggested as one by another command */
    cli_hint_long(&run_cmd, "epochs", 6, buf, sizeof buf);
    assert_string_equal(buf, "; the options of rnnc run are --weights (-w), --input (-i), --engine");
}

static void test_short_options_and_commands(void **state)
{
    (void)state;
    char buf[512];
    cli_hint_short(&run_cmd, 'x', buf, sizeof buf);
    assert_string_equal(buf, "; the options of rnnc run are --weights (-w), --input (-i), --engine");
    const Command *const cmds[] = {&check_cmd, &run_cmd, &train_cmd};
    cli_hint_command("trian", cmds, 3, buf, sizeof buf);
    assert_string_equal(buf, "did you mean 'train'? The commands are check, run, train");
    cli_hint_command("compile-it", cmds, 3, buf, sizeof buf);
    assert_string_equal(buf, "the commands are check, run, train");
    /* a short buffer is cut, and still terminated */
    char small[12];
    cli_hint_long(&run_cmd, "foo", 3, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_values(void **state)
{
    (void)state;
    char buf[128];
    static const char *const engines[] = {"interp", "c", "jit", NULL};
    cli_hint_value("jitt", engines, buf, sizeof buf);
    assert_string_equal(buf, "; did you mean 'jit'?");
    cli_hint_value("intrp", engines, buf, sizeof buf);
    assert_string_equal(buf, "; did you mean 'interp'?");
    cli_hint_value("llvm", engines, buf, sizeof buf); /* the message lists them already */
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_options),
        cmocka_unit_test(test_short_options_and_commands),
        cmocka_unit_test(test_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
