/* fortune.c - the C program of `make demo`: prints new fortunes from the
 * model that `rnnc compile` turned into one C file, with the trained
 * weights inside it.
 *
 *   rnnc compile fortunes.rnn -w fortunes.safetensors --embed-weights \
 *       -o fortunes.c --header fortunes.h
 *   cc -std=c11 -O2 -o fortune fortune.c fortunes.c -lm
 *   ./fortune fortunes.txt [COUNT [SEED]]
 *
 * It feeds the model one character at a time (fortunes_step keeps the
 * LSTM's state between calls) and draws each next character from the
 * probabilities the model gives back, until COUNT fortunes (default 2)
 * have ended with the text's "%" separator line.
 *
 * The model reads and writes character ids, not characters: id i is the
 * i-th smallest distinct byte of the text it was trained on (the
 * vocabulary of rnnc's text() data, docs/training.md), so the program
 * rebuilds that table from the same text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fortunes.h"

#define VOCAB       96  /* the model's vocab = 96 */
#define TEMPERATURE 0.7 /* below 1: likelier characters, fewer typos */
#define MAX_CHARS   300 /* a fortune this long ends at its next line end */

/* The vocabulary: chars[id] is the byte of id; returns how many. */
static int read_vocab(const char *path, unsigned char chars[256])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    int seen[256] = {0}, c, n = 0;
    while ((c = getc(f)) != EOF) seen[c] = 1;
    fclose(f);
    for (int b = 0; b < 256; b++)
        if (seen[b]) chars[n++] = (unsigned char)b;
    return n;
}

/* xorshift64*: any seeded generator will do for drawing characters. */
static double uniform(unsigned long long *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* Draws an id among the first n from p sharpened by the temperature,
 * p^(1/T) renormalized (ids past the vocabulary never occur in training,
 * so the model gives them almost nothing; they are not drawn). */
static int draw(const float *p, int n, unsigned long long *s)
{
    double w[VOCAB], sum = 0;
    for (int i = 0; i < n; i++) sum += w[i] = pow(p[i], 1.0 / TEMPERATURE);
    double u = uniform(s) * sum;
    for (int i = 0; i < n; i++)
        if ((u -= w[i]) < 0) return i;
    return n - 1;
}

/* One step of the model on the character with id `id`: probs gets the
 * next character's probabilities. */
static int feed(fortunes_model *m, int id, float probs[VOCAB])
{
    int64_t tok = id;
    fortunes_inputs in = {.chars = &tok};
    fortunes_outputs out = {.probs = probs};
    if (fortunes_step(m, 1, &in, &out) == fortunes_OK) return 0;
    fprintf(stderr, "%s\n", fortunes_errmsg(m));
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s TEXT [COUNT [SEED]]  (TEXT: the text the model was trained on)\n", argv[0]);
        return 2;
    }
    unsigned char chars[256];
    int n = read_vocab(argv[1], chars), id_of[256];
    if (n < 0) return 1;
    if (n > VOCAB) {
        fprintf(stderr, "%s has %d distinct characters, the model knows %d\n", argv[1], n, VOCAB);
        return 1;
    }
    for (int b = 0; b < 256; b++) id_of[b] = -1;
    for (int i = 0; i < n; i++) id_of[chars[i]] = i;
    if (id_of['%'] < 0 || id_of['\n'] < 0) {
        fprintf(stderr, "%s has no \"%%\" separator lines\n", argv[1]);
        return 1;
    }
    int count = argc > 2 ? atoi(argv[2]) : 2;
    unsigned long long seed = argc > 3 ? strtoull(argv[3], NULL, 10) : (unsigned long long)time(NULL);
    seed = seed * 0x9e3779b97f4a7c15ull + 1; /* never 0, which xorshift keeps */

    /* One sequence of one step a call; the weights are in the file. */
    fortunes_sizes max = {.batch = 1, .T_chars = 1};
    fortunes_model *m;
    char err[256];
    if (fortunes_create(&m, &max, err, sizeof err) != fortunes_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    /* Prime with the end of a fortune, "%\n": the model then starts one. */
    float probs[VOCAB];
    int rc = feed(m, id_of['%'], probs) || feed(m, id_of['\n'], probs);
    for (int k = 0; k < count && !rc; k++) {
        int prev = '\n', len = 0;
        for (;;) {
            int c = chars[draw(probs, n, &seed)];
            if (c == '%' && prev == '\n') { /* the separator: this fortune ends */
                rc = feed(m, id_of['%'], probs) || feed(m, id_of['\n'], probs);
                break;
            }
            putchar(c);
            prev = c;
            /* no separator in sight: end it with its line (or, with no
             * line end either, anywhere), and start afresh */
            if ((++len >= MAX_CHARS && c == '\n') || len == 3 * MAX_CHARS) {
                if (c != '\n') putchar('\n');
                fortunes_reset(m);
                rc = feed(m, id_of['%'], probs) || feed(m, id_of['\n'], probs);
                break;
            }
            if ((rc = feed(m, id_of[c], probs))) break;
        }
        if (k + 1 < count) puts("%");
    }
    fortunes_free(m);
    return rc ? 1 : 0;
}
