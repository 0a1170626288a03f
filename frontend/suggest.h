/* suggest.h - "did you mean ...?": of a list of known names, the one a
 * misspelt name was most likely meant to be.
 *
 * Used wherever a user's name is looked up in a closed list (train
 * settings in the model and on the command line), so every such message
 * suggests the same way.  Candidates are offered one at a time, so any
 * table can be searched without copying its names out:
 *
 *     Suggest sg;
 *     suggest_init(&sg, word);
 *     for (...) suggest_add(&sg, table[i].name);
 *     const char *near = suggest_best(&sg);   // NULL: nothing close
 */
#ifndef RNNC_SUGGEST_H
#define RNNC_SUGGEST_H

typedef struct Suggest {
    const char *word;
    const char *best; /* nearest candidate so far (the first of a tie) */
    int dist;         /* its distance                                  */
} Suggest;

/* The optimal-string-alignment distance of a and b: insertions,
 * deletions, substitutions and swaps of two neighbours cost 1 each
 * ("epoch" -> "epochs" 1, "tbtpt" -> "tbptt" 1).  Names longer than
 * SUGGEST_MAX_LEN bytes are "far from everything" (a large number). */
#define SUGGEST_MAX_LEN 64
int edit_distance(const char *a, const char *b);

void suggest_init(Suggest *s, const char *word);
void suggest_add(Suggest *s, const char *candidate);
/* The nearest candidate if it is close enough to be a typo of the word
 * (distance at most a third of the word's length, and at least 1 allowed),
 * else NULL.  An exact match is returned too (distance 0). */
const char *suggest_best(const Suggest *s);

#endif
