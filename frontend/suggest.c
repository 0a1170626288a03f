/* suggest.c - edit distance and the nearest name (suggest.h). */
#include "frontend/suggest.h"

#include <limits.h>
#include <string.h>

int edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN) return INT_MAX / 2;
    /* Three rows of the usual table: the one before last is needed for
     * a swap of neighbours. */
    int rows[3][SUGGEST_MAX_LEN + 1];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= m; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            int d = sub < del ? sub : del;
            if (ins < d) d = ins;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

void suggest_init(Suggest *s, const char *word)
{
    s->word = word;
    s->best = NULL;
    s->dist = INT_MAX;
}

void suggest_add(Suggest *s, const char *candidate)
{
    int d = edit_distance(s->word, candidate);
    if (d < s->dist) {
        s->dist = d;
        s->best = candidate;
    }
}

const char *suggest_best(const Suggest *s)
{
    int len = (int)strlen(s->word);
    int limit = len / 3 > 1 ? len / 3 : 1;
    return s->best && s->dist <= limit ? s->best : NULL;
}
