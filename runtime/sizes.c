/* sizes.c - size expressions evaluated without wrapping (sizes.h). */
#include "runtime/sizes.h"

#include <stdio.h>
#include <unistd.h>

/* Saturating steps for operands in [0, RT_SIZE_HUGE]: once a value has
 * saturated it stays saturated (a division of HUGE is still HUGE). */
static int64_t sz_add(int64_t a, int64_t b) { return a >= RT_SIZE_HUGE - b ? RT_SIZE_HUGE : a + b; }
static int64_t sz_mul(int64_t a, int64_t b)
{
    if (a == 0 || b == 0) return 0;
    return a >= RT_SIZE_HUGE / b ? RT_SIZE_HUGE : a * b;
}

RT_API int64_t rt_size_eval(const int64_t *w, const int64_t *sym)
{
    int64_t st[RT_SIZE_DEPTH];
    int sp = 0;
    if (!w || w[0] < 1) return -1;
    for (int64_t i = 1; i <= w[0]; i++) {
        int64_t op = w[i];
        if (op == RT_SZ_CONST || op == RT_SZ_SYM) {
            if (i + 1 > w[0] || sp == RT_SIZE_DEPTH) return -1;
            int64_t v = op == RT_SZ_CONST ? w[++i] : sym[w[++i]];
            if (v < 0) return -1;
            st[sp++] = v;
            continue;
        }
        if (sp < 2) return -1;
        int64_t a = st[sp - 2], b = st[sp - 1], r;
        switch (op) {
        case RT_SZ_ADD: r = sz_add(a, b); break;
        /* a difference of sizes is never negative in an arena size; one
         * of HUGE stays HUGE rather than becoming an arbitrary number */
        case RT_SZ_SUB: r = a == RT_SIZE_HUGE ? a : a > b ? a - b : 0; break;
        case RT_SZ_MUL: r = sz_mul(a, b); break;
        case RT_SZ_DIV: r = a == RT_SIZE_HUGE ? a : b ? a / b : 0; break;
        case RT_SZ_MAX: r = a > b ? a : b; break;
        default: return -1;
        }
        st[--sp - 1] = r;
    }
    return sp == 1 ? st[0] : -1;
}

RT_API uint64_t rt_size_machine_bytes(void)
{
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return (uint64_t)pages * (uint64_t)page;
#endif
    return 0;
}

RT_API const char *rt_size_str(int64_t bytes, char *buf, size_t n)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, n, "%lld bytes", (long long)bytes);
        return buf;
    }
    double v = (double)bytes / 1024;
    int u = 0;
    while (v >= 1024 && u < 5) v /= 1024, u++;
    snprintf(buf, n, "%.1f %s", v, unit[u]);
    return buf;
}

RT_API int rt_size_check(int64_t bytes, uint64_t limit, const char *what, char *err, size_t errlen)
{
    char need[32], have[32];
    uint64_t machine = limit ? limit : rt_size_machine_bytes();
    if (bytes == RT_SIZE_HUGE) {
        if (err && errlen) snprintf(err, errlen, "%s needs more than 8 EiB of memory", what);
        return -1;
    }
    if (machine && bytes > 0 && (uint64_t)bytes > machine) {
        if (err && errlen)
            snprintf(err, errlen, "%s needs %s of memory, more than %s %s", what, rt_size_str(bytes, need, sizeof need),
                     limit ? "the limit of" : "this machine's", rt_size_str((int64_t)machine, have, sizeof have));
        return -1;
    }
    return 0;
}
