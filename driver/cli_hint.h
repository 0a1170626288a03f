/* cli_hint.h - what the usage errors of a misspelt command line add: the
 * nearest valid name ("did you mean '--weights'?", by the edit distance
 * of frontend/suggest.h, as the train settings suggest), else the list of
 * valid ones, so that an unknown name never leaves the user guessing. */
#ifndef RNNC_CLI_HINT_H
#define RNNC_CLI_HINT_H

#include <stddef.h>

#include "driver/cli.h"

/* For the unknown option --NAME (len bytes of name) of command c: into
 * buf, "; did you mean '--weights'?", or for `train` and a train
 * setting's name "; a train setting is given with --set: --set epochs=...",
 * or "; the options of rnnc run are --weights (-w), ...". */
void cli_hint_long(const Command *c, const char *name, size_t len, char *buf, size_t n);

/* For the unknown short option -CH: the list of the options (one letter
 * is too short to guess from). */
void cli_hint_short(const Command *c, char ch, char *buf, size_t n);

/* For the value `word` of an option that takes one of `choices` (NULL
 * ended), all of which its message lists already: "; did you mean 'jit'?"
 * for a near one, else "". */
void cli_hint_value(const char *word, const char *const *choices, char *buf, size_t n);

/* For the unknown command NAME among cmds: "did you mean 'train'? The
 * commands are check, dump, ..." (without a near name, "the commands
 * are ..."). */
void cli_hint_command(const char *name, const Command *const *cmds, int ncmds, char *buf, size_t n);

#endif
