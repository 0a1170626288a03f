/* cli.c - option parsing and model loading shared by the subcommands. */
#include "driver/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "driver/cli_hint.h"
#include "frontend/sema.h"
#include "ir/timing.h"

static const CliOpt *find_long(const Command *c, const char *name, size_t len)
{
    for (const CliOpt *o = c->opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static const CliOpt *find_short(const Command *c, char ch)
{
    for (const CliOpt *o = c->opts; o && o->name; o++)
        if (o->shortc == ch) return o;
    return NULL;
}

static int add_opt(const Command *c, CliArgs *out, const CliOpt *o, const char *val)
{
    if (out->nopts >= (int)(sizeof out->opt / sizeof out->opt[0])) return cli_usage_error(c, "too many options");
    out->opt[out->nopts] = o;
    out->val[out->nopts++] = val;
    return 0;
}

int cli_parse(const Command *c, int argc, char **argv, CliArgs *out)
{
    memset(out, 0, sizeof *out);
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            if (out->npos >= c->max_pos) return cli_usage_error(c, "unexpected argument '%s'", a);
            out->pos[out->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        const CliOpt *o;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            o = find_long(c, a + 2, len);
            if (!o) {
                char hint[1024];
                cli_hint_long(c, a + 2, len, hint, sizeof hint);
                return cli_usage_error(c, "unknown option '%.*s'%s", (int)len + 2, a, hint);
            }
            if (eq) {
                if (o->arg == 0) return cli_usage_error(c, "option '--%s' takes no value", o->name);
                val = eq + 1;
            } else if (o->arg == 1) {
                if (i + 1 >= argc) return cli_usage_error(c, "option '--%s' needs a value", o->name);
                val = argv[++i];
            }
        } else {
            o = find_short(c, a[1]);
            if (!o) {
                char hint[1024];
                cli_hint_short(c, a[1], hint, sizeof hint);
                return cli_usage_error(c, "unknown option '-%c'%s", a[1], hint);
            }
            if (o->arg == 0) {
                if (a[2]) return cli_usage_error(c, "option '-%c' takes no value", a[1]);
            } else if (a[2]) {
                val = a + 2;
            } else if (o->arg == 1) {
                if (i + 1 >= argc) return cli_usage_error(c, "option '-%c' needs a value", a[1]);
                val = argv[++i];
            }
        }
        if (add_opt(c, out, o, val)) return EXIT_USAGE;
    }
    if (out->npos < c->min_pos)
        return cli_usage_error(c, "expected %s%d argument%s, got %d", c->min_pos == c->max_pos ? "" : "at least ",
                               c->min_pos, c->min_pos == 1 ? "" : "s", out->npos);
    return 0;
}

const char *cli_get(const CliArgs *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->nopts; i++)
        if (strcmp(a->opt[i]->name, name) == 0) v = a->val[i];
    return v;
}

int cli_has(const CliArgs *a, const char *name)
{
    for (int i = 0; i < a->nopts; i++)
        if (strcmp(a->opt[i]->name, name) == 0) return 1;
    return 0;
}

void cli_usage(const Command *c, FILE *out) { fprintf(out, "usage: rnnc %s %s\n", c->name, c->synopsis); }

void cli_help(const Command *c, FILE *out)
{
    cli_usage(c, out);
    fprintf(out, "\n%s\n", c->details);
    if (c->opts && c->opts->name) fprintf(out, "\noptions:\n");
    for (const CliOpt *o = c->opts; o && o->name; o++) {
        char left[64];
        if (o->shortc)
            snprintf(left, sizeof left, "-%c, --%s", o->shortc, o->name);
        else
            snprintf(left, sizeof left, "    --%s", o->name);
        fprintf(out, "  %-22s %s\n", left, o->help);
    }
}

int cli_usage_error(const Command *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rnnc %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cli_usage(c, stderr);
    return EXIT_USAGE;
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rnnc: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

int cli_int(const Command *c, const char *name, const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno) {
        return cli_usage_error(c, "option '--%s' needs an integer, got '%s'", name, s ? s : "");
    }
    *out = v;
    return 0;
}

/* ---- loading a model ----------------------------------------------------- */

/* The file's bytes, NUL-terminated; *len their count (a NUL inside makes
 * strlen() shorter, which source_parse reports at its position). */
static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            cli_error("%s: out of memory", path);
            return NULL;
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) free(buf);
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        cli_error("%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Where byte k of text is, for a diagnostic. */
static SrcLoc loc_of_byte(const char *text, size_t k)
{
    SrcLoc at = {1, 1, 1};
    for (size_t i = 0; i < k; i++)
        if (text[i] == '\n')
            at.line++, at.col = 1;
        else
            at.col++;
    return at;
}

int source_parse(Source *s, const char *path)
{
    memset(s, 0, sizeof *s);
    size_t len = 0;
    s->text = read_text(path, &len);
    if (!s->text) return 1;
    diag_init(&s->diag, path, s->text, stderr);
    size_t nul = strlen(s->text);
    if (nul != len) {
        /* the diagnostic shows the line up to the byte */
        diag_error(&s->diag, loc_of_byte(s->text, nul), "a NUL byte: the file is not text");
        return 1;
    }
    TimingMark t = timing_start();
    s->prog = parse_program(path, s->text, &s->diag);
    timing_stop(&t, "parse");
    return (!s->prog || diag_errors(&s->diag)) ? 1 : 0;
}

int source_load(Source *s, const char *path, const char *model)
{
    if (source_parse(s, path)) return 1;
    TimingMark t = timing_start();
    s->ir = sema_build(s->prog, model, &s->diag);
    int bad = !s->ir || diag_errors(&s->diag);
    if (!bad && ir_verify(s->ir, "sema", stderr)) bad = cli_error("internal error: invalid IR after sema");
    timing_stop(&t, "sema");
    return bad;
}

void source_free(Source *s)
{
    if (s->ir) ir_free(s->ir);
    if (s->prog) ast_free(s->prog);
    free(s->text);
    memset(s, 0, sizeof *s);
}
