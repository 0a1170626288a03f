/* cli_hint.c - suggestions and lists for unknown names on the command
 * line (see cli_hint.h). */
#include "driver/cli_hint.h"

#include <stdio.h>
#include <string.h>

#include "frontend/suggest.h"
#include "frontend/train_keys.h"

/* Appends s to buf (n bytes; cut short, it stays terminated). */
static void append(char *buf, size_t n, const char *s)
{
    size_t k = strlen(buf);
    if (k + 1 < n) snprintf(buf + k, n - k, "%s", s);
}

static void list_options(const Command *c, char *buf, size_t n)
{
    char one[96];
    if (!c->opts || !c->opts->name) {
        snprintf(one, sizeof one, "; rnnc %s takes no options", c->name);
        append(buf, n, one);
        return;
    }
    snprintf(one, sizeof one, "; the options of rnnc %s are ", c->name);
    append(buf, n, one);
    const char *sep = "";
    for (const CliOpt *o = c->opts; o && o->name; o++) {
        if (o->shortc)
            snprintf(one, sizeof one, "%s--%s (-%c)", sep, o->name, o->shortc);
        else
            snprintf(one, sizeof one, "%s--%s", sep, o->name);
        append(buf, n, one);
        sep = ", ";
    }
}

void cli_hint_long(const Command *c, const char *name, size_t len, char *buf, size_t n)
{
    char word[SUGGEST_MAX_LEN + 1], one[160];
    snprintf(word, sizeof word, "%.*s", len > SUGGEST_MAX_LEN ? SUGGEST_MAX_LEN : (int)len, name);
    buf[0] = '\0';
    /* `rnnc train m.rnn --epochs 3`: the settings are not options */
    const TrainKey *k = strcmp(c->name, "train") ? NULL : train_key_find(word);
    if (k) {
        snprintf(one, sizeof one, "; a train setting is given with --set: --set %s=...", k->name);
        append(buf, n, one);
        return;
    }
    Suggest sg;
    suggest_init(&sg, word);
    for (const CliOpt *o = c->opts; o && o->name; o++) suggest_add(&sg, o->name);
    const char *near = suggest_best(&sg);
    if (near) {
        snprintf(one, sizeof one, "; did you mean '--%s'?", near);
        append(buf, n, one);
        return;
    }
    list_options(c, buf, n);
}

void cli_hint_short(const Command *c, char ch, char *buf, size_t n)
{
    (void)ch;
    buf[0] = '\0';
    list_options(c, buf, n);
}

void cli_hint_value(const char *word, const char *const *choices, char *buf, size_t n)
{
    char one[160];
    buf[0] = '\0';
    Suggest sg;
    suggest_init(&sg, word);
    for (int i = 0; choices[i]; i++) suggest_add(&sg, choices[i]);
    const char *near = suggest_best(&sg);
    if (!near) return;
    snprintf(one, sizeof one, "; did you mean '%s'?", near);
    append(buf, n, one);
}

void cli_hint_command(const char *name, const Command *const *cmds, int ncmds, char *buf, size_t n)
{
    char one[96];
    buf[0] = '\0';
    Suggest sg;
    suggest_init(&sg, name);
    for (int i = 0; i < ncmds; i++) suggest_add(&sg, cmds[i]->name);
    const char *near = suggest_best(&sg);
    if (near) {
        snprintf(one, sizeof one, "did you mean '%s'? ", near);
        append(buf, n, one);
    }
    append(buf, n, near ? "The commands are " : "the commands are ");
    for (int i = 0; i < ncmds; i++) {
        snprintf(one, sizeof one, "%s%s", i ? ", " : "", cmds[i]->name);
        append(buf, n, one);
    }
}
