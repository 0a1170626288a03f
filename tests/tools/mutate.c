/* mutate.c - make a valid model file invalid, for the diagnostics tests.
 *
 *   mutate SEED IN OUT [N]
 *
 * Writes IN with N (default 1 to 3, drawn from SEED) random edits to OUT.
 * The edits work on tokens (names, numbers, single punctuation, runs of
 * blanks) so that most results still look like the language and reach
 * past the lexer into the parser and the checker:
 *   - delete, duplicate or swap tokens;
 *   - a number replaced by an extreme one (0, -1, 2^32, 2^63, 1e300, ...);
 *   - a name replaced by another name of the file or a word of the language;
 *   - a punctuation character inserted;
 *   - a line duplicated or two lines swapped;
 *   - one random byte inserted (NUL and non-UTF-8 included);
 *   - the file cut at a random byte.
 * Deterministic for a seed: tests/diff/mutate.sh names the seed of any
 * input that makes rnnc crash, and `mutate SEED IN OUT` remakes it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64, as randnpy.c */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng;
static size_t pick(size_t n) { return n ? (size_t)(next(&rng) % n) : 0; }

typedef struct Tok {
    const char *s;
    size_t n;
} Tok;

typedef struct Text {
    Tok *t;
    size_t n, cap;
} Text;

static void push(Text *x, const char *s, size_t n)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 256;
        x->t = realloc(x->t, x->cap * sizeof *x->t);
        if (!x->t) exit(2);
    }
    x->t[x->n++] = (Tok){s, n};
}

static void insert(Text *x, size_t at, const char *s, size_t n)
{
    push(x, s, n);
    memmove(x->t + at + 1, x->t + at, (x->n - 1 - at) * sizeof *x->t);
    x->t[at] = (Tok){s, n};
}

static void erase(Text *x, size_t at)
{
    memmove(x->t + at, x->t + at + 1, (x->n - at - 1) * sizeof *x->t);
    x->n--;
}

static int is_name(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Splits the text into names, numbers, blank runs and single characters. */
static void tokenize(Text *x, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i + 1;
        if (is_name(s[i]))
            while (j < len && (is_name(s[j]) || is_digit(s[j]) || s[j] == '\'')) j++;
        else if (is_digit(s[i]))
            while (j < len && (is_digit(s[j]) || s[j] == '.' || s[j] == 'e')) j++;
        else if (s[i] == ' ' || s[i] == '\t')
            while (j < len && (s[j] == ' ' || s[j] == '\t')) j++;
        push(x, s + i, j - i);
        i = j;
    }
}

/* The index of a random token satisfying want, or x->n if there is none. */
static size_t pick_tok(const Text *x, int (*want)(const Tok *))
{
    size_t start = pick(x->n);
    for (size_t k = 0; k < x->n; k++) {
        size_t i = (start + k) % x->n;
        if (want(&x->t[i])) return i;
    }
    return x->n;
}

static int any_tok(const Tok *t) { return t->s[0] != ' ' && t->s[0] != '\t' && t->s[0] != '\n'; }
static int name_tok(const Tok *t) { return is_name(t->s[0]); }
static int number_tok(const Tok *t) { return is_digit(t->s[0]); }
static int newline_tok(const Tok *t) { return t->s[0] == '\n'; }

static const char *const extremes[] = {"0",     "-1",     "4294967296", "9223372036854775807", "18446744073709551616",
                                       "1e300", "1e-300", "0.0",        "1099511627777",       "3.5"};
static const char *const words[] = {"cell", "param",  "state",  "out",   "model",  "train", "loss",    "seq",
                                    "lstm", "gru",    "rnn",    "dense", "tanh",   "relu",  "sigmoid", "softmax",
                                    "init", "hidden", "layers", "input", "output", "x",     "h",       "B"};
static const char punct[] = "()[]{},:=@*+-/<>'\"#.;\n";

/* Where line k (0-based among the newline tokens) starts and ends. */
static void line_span(const Text *x, size_t line, size_t *b, size_t *e)
{
    size_t k = 0, i = 0;
    *b = 0;
    for (; i < x->n; i++)
        if (newline_tok(&x->t[i])) {
            if (k == line) break;
            k++;
            *b = i + 1;
        }
    *e = i < x->n ? i + 1 : x->n;
}

static size_t count_lines(const Text *x)
{
    size_t n = 0;
    for (size_t i = 0; i < x->n; i++) n += newline_tok(&x->t[i]);
    return n + 1;
}

static char bytes[256];

static void mutate_once(Text *x, size_t *cut)
{
    if (!x->n) return;
    size_t i;
    switch (pick(10)) {
    case 0: /* delete a token */
        if ((i = pick_tok(x, any_tok)) < x->n) erase(x, i);
        break;
    case 1: /* duplicate a token */
        if ((i = pick_tok(x, any_tok)) < x->n) insert(x, i, x->t[i].s, x->t[i].n);
        break;
    case 2: { /* swap two tokens */
        size_t a = pick_tok(x, any_tok), b = pick_tok(x, any_tok);
        if (a < x->n && b < x->n) {
            Tok t = x->t[a];
            x->t[a] = x->t[b];
            x->t[b] = t;
        }
        break;
    }
    case 3: /* an extreme number */
        if ((i = pick_tok(x, number_tok)) < x->n) {
            const char *e = extremes[pick(sizeof extremes / sizeof *extremes)];
            x->t[i] = (Tok){e, strlen(e)};
        }
        break;
    case 4: /* another name */
        if ((i = pick_tok(x, name_tok)) < x->n) {
            if (pick(2)) {
                const char *w = words[pick(sizeof words / sizeof *words)];
                x->t[i] = (Tok){w, strlen(w)};
            } else {
                size_t j = pick_tok(x, name_tok);
                x->t[i] = x->t[j];
            }
        }
        break;
    case 5: /* a punctuation character */
        i = pick(sizeof punct - 1);
        insert(x, pick(x->n + 1), punct + i, 1);
        break;
    case 6: { /* duplicate a line */
        size_t b, e;
        line_span(x, pick(count_lines(x)), &b, &e);
        for (size_t k = b; k < e; k++) insert(x, e + (k - b), x->t[k].s, x->t[k].n);
        break;
    }
    case 7: { /* swap two lines: the second's tokens move before the first */
        size_t l1 = pick(count_lines(x)), l2 = pick(count_lines(x)), b1, e1, b2, e2;
        if (l1 > l2) {
            size_t t = l1;
            l1 = l2;
            l2 = t;
        }
        line_span(x, l1, &b1, &e1);
        line_span(x, l2, &b2, &e2);
        if (l1 == l2 || e1 > b2) break;
        for (size_t k = 0; k < e2 - b2; k++) {
            Tok t = x->t[b2 + k];
            erase(x, b2 + k);
            insert(x, b1 + k, t.s, t.n);
        }
        break;
    }
    case 8: /* one random byte */
        i = pick(256);
        insert(x, pick(x->n + 1), bytes + i, 1);
        break;
    default: /* cut the file */ *cut = pick(x->n); break;
    }
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: mutate SEED IN OUT [N]\n");
        return 2;
    }
    rng = strtoull(argv[1], NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < 256; i++) bytes[i] = (char)i;
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    static char src[1 << 20];
    size_t len = fread(src, 1, sizeof src, f);
    fclose(f);
    Text x = {0};
    tokenize(&x, src, len);
    int n = argc == 5 ? atoi(argv[4]) : 1 + (int)pick(3);
    size_t cut = (size_t)-1;
    for (int k = 0; k < n; k++) mutate_once(&x, &cut);
    FILE *o = fopen(argv[3], "wb");
    if (!o) {
        perror(argv[3]);
        return 2;
    }
    for (size_t i = 0; i < x.n && i < cut; i++) fwrite(x.t[i].s, 1, x.t[i].n, o);
    free(x.t);
    return fclose(o) ? 2 : 0;
}
