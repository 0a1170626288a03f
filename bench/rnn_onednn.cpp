/* rnn_onednn.cpp - the oneDNN baseline of the RNN benchmark: the time of a
 * forward pass (inference) and of a training step of one RNN layer, with
 * oneDNN's own RNN primitives (Debian libdnnl-dev, oneDNN 2.x C++ API).
 * bench/rnn_bench.sh runs it and puts its lines next to rnnc's and PyTorch's.
 *
 * Cells, in PyTorch's definitions so that all columns compute the same thing:
 *   lstm  dnnl::lstm_forward / lstm_backward
 *   gru   dnnl::lbr_gru_forward / lbr_gru_backward: "linear before reset",
 *         r * (W_hn h + b_hn), which is PyTorch's GRU (oneDNN's gru_forward is
 *         the other form, r * h before the product)
 *   rnn   dnnl::vanilla_rnn_forward / backward with tanh
 * One layer, one direction, zero initial state, sequence-major input [T, B, I];
 * "lstm2" is two stacked LSTM layers, the primitive's L = 2 (it needs
 * I = H, as the benchmark has).
 *
 * Forward: prop_kind::forward_inference, weights in the layout oneDNN picks
 * (format_tag::any; may be a packed format with a header), reordered into it
 * once from plain ldigo weights: never written as raw floats (see
 * shared/BENCHMARKING.md: writing raw floats into a packed layout computes on
 * garbage dimensions and runs impossibly fast).  As a guard, the inference
 * output must equal the training-forward output, which runs on plain weights.
 *
 * Training step, as PyTorch's in bench/rnn_torch.py: forward_training; the
 * gradient of an MSE loss against a fixed target, 2 (y - target) / N; backward
 * (zeroing the weight gradients first, as zero_grad does, since oneDNN adds
 * into them); an SGD step w -= lr * dw on the forward weights; and a reorder
 * of the updated weights into the layout the backward primitive wants when it
 * is not the forward one.  The input's gradient is computed too (PyTorch's
 * script asks for it as well): bench/rnn_flops.h counts it.
 *
 * Timing (the same in bench/rnn_torch.py): 2 warm-up calls; then 3
 * repetitions of R calls each, R = 20, or fewer (at least 3) when 20 would
 * take more than 0.7 s, or more (up to 200) to fill 0.3 s; the result is the
 * best of the 3 medians, and spread = (worst median - best median) / best.
 *
 * Output, one line per cell and shape (bench/rnn_bench.sh parses it):
 *   onednn CELL I H B T threads=N fwd_ms=X fwd_spread=P% train_ms=Y train_spread=Q%
 *          fwd_base_mb=.. fwd_peak_mb=.. train_base_mb=.. train_peak_mb=..
 * the process's resident memory before each timing and its peak during it
 * (VmHWM reset before it), in MiB, as bench/rnn_rnnc.c reports them.
 * threads is what OpenMP will use (OMP_NUM_THREADS; oneDNN is built on it).
 *
 *   rnn_onednn                  every cell and shape of the benchmark
 *   rnn_onednn CELL I H B T     one of them
 */
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <malloc.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

struct Config {
    std::string cell; /* lstm, gru, rnn; "lstm2" is printed, cell is then "lstm" */
    long i, h, b, t;
    long layers;
    std::string label;
};

/* The benchmark's shapes: (I = H, B, T). */
const long kShapes[][3] = {{256, 1, 100}, {256, 32, 100}, {512, 64, 100}};
const char *const kCells[] = {"lstm", "gru", "rnn"};

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Timing {
    double ms, spread_pct;
};

/* Best median of 3 repetitions, as described at the top of the file. */
Timing time_op(const std::function<void()> &op)
{
    op();
    double t0 = now();
    op();
    double one = std::max(now() - t0, 1e-7);
    int runs = 20;
    if (runs * one > 0.7) runs = std::max(3, (int)std::ceil(0.7 / one));
    if (runs * one < 0.3) runs = std::min(200, (int)std::ceil(0.3 / one));
    double best = 1e30, worst = 0;
    std::vector<double> t((size_t)runs);
    for (int rep = 0; rep < 3; rep++) {
        for (int k = 0; k < runs; k++) {
            double a = now();
            op();
            t[(size_t)k] = now() - a;
        }
        std::sort(t.begin(), t.end());
        double med = t[(size_t)runs / 2];
        best = std::min(best, med);
        worst = std::max(worst, med);
    }
    return {best * 1e3, 100.0 * (worst - best) / best};
}

/* Peak resident memory, as bench/rnn_rnnc.c measures it: a field of
 * /proc/self/status in KiB ("VmRSS", "VmHWM"), -1 where there is none. */
long status_kib(const char *key)
{
    FILE *f = std::fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = std::strlen(key);
    while (v < 0 && std::fgets(line, sizeof line, f))
        if (!std::strncmp(line, key, n) && line[n] == ':') v = std::strtol(line + n + 1, nullptr, 10);
    std::fclose(f);
    return v;
}

/* Resets VmHWM to the current RSS (clear_refs, Linux 4.0 on) after giving
 * the heap's free pages back; the RSS in KiB, or -1 when it cannot. */
long peak_start()
{
    malloc_trim(0);
    FILE *f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    bool bad = std::fputs("5", f) < 0;
    bad |= std::fclose(f) != 0;
    return bad ? -1 : status_kib("VmRSS");
}

/* Floats of a memory object; only for layouts that are plain arrays. */
float *floats(const memory &m) { return static_cast<float *>(m.get_data_handle()); }

size_t nfloats(const memory &m) { return m.get_desc().get_size() / sizeof(float); }

void fill_uniform(const memory &m, std::mt19937 &rng, float scale)
{
    std::uniform_real_distribution<float> u(-scale, scale);
    float *p = floats(m);
    for (size_t k = 0; k < nfloats(m); k++) p[k] = u(rng);
}

/* Plain weights or bias in descriptor md: a new memory holding `from`,
 * reordered when md is another layout (a packed one included). */
memory in_layout(const memory &from, const memory::desc &md, const engine &eng, stream &s)
{
    if (md == from.get_desc()) return from;
    memory to(md, eng);
    reorder(from, to).execute(s, const_cast<memory &>(from), to);
    s.wait();
    return to;
}

/* A memory descriptor of a plain (blocked, unpadded) layout: one that SGD
 * may update element by element. */
bool is_plain(const memory::desc &md) { return md.data.format_kind == dnnl_blocked && md.data.extra.flags == 0; }

struct Prims {
    primitive_desc fwd_inf, fwd_train, bwd;
};

/* The three primitive descriptors of one cell.  All weights in format any. */
Prims make_prims(const Config &c, const engine &eng)
{
    const memory::dim G = c.cell == "lstm" ? 4 : c.cell == "gru" ? 3 : 1;
    const memory::dim Gb = c.cell == "gru" ? 4 : G; /* lbr_gru: a 4th bias block */
    memory::desc src({c.t, c.b, c.i}, dt::f32, tag::tnc);
    memory::desc dst({c.t, c.b, c.h}, dt::f32, tag::tnc);
    const memory::dim L = c.layers;
    memory::desc wl({L, 1, c.i, G, c.h}, dt::f32, tag::any);
    memory::desc wi({L, 1, c.h, G, c.h}, dt::f32, tag::any);
    memory::desc bias({L, 1, Gb, c.h}, dt::f32, tag::any);
    memory::desc none; /* zero initial state, final state not wanted */
    memory::desc dsrc({c.t, c.b, c.i}, dt::f32, tag::any);
    const auto fwd = rnn_direction::unidirectional_left2right;
    Prims p;
    if (c.cell == "lstm") {
        lstm_forward::primitive_desc inf(
            lstm_forward::desc(prop_kind::forward_inference, fwd, src, none, none, wl, wi, bias, dst, none, none), eng);
        lstm_forward::primitive_desc tr(
            lstm_forward::desc(prop_kind::forward_training, fwd, src, none, none, wl, wi, bias, dst, none, none), eng);
        lstm_backward::primitive_desc bw(lstm_backward::desc(prop_kind::backward, fwd, src, none, none, wl, wi, bias,
                                                             dst, none, none, dsrc, none, none, wl, wi, bias, dst, none,
                                                             none),
                                         eng, tr);
        p = {inf, tr, bw};
    } else if (c.cell == "gru") {
        lbr_gru_forward::primitive_desc inf(
            lbr_gru_forward::desc(prop_kind::forward_inference, fwd, src, none, wl, wi, bias, dst, none), eng);
        lbr_gru_forward::primitive_desc tr(
            lbr_gru_forward::desc(prop_kind::forward_training, fwd, src, none, wl, wi, bias, dst, none), eng);
        lbr_gru_backward::primitive_desc bw(lbr_gru_backward::desc(prop_kind::backward, fwd, src, none, wl, wi, bias,
                                                                   dst, none, dsrc, none, wl, wi, bias, dst, none),
                                            eng, tr);
        p = {inf, tr, bw};
    } else {
        const auto act = algorithm::eltwise_tanh;
        vanilla_rnn_forward::primitive_desc inf(
            vanilla_rnn_forward::desc(prop_kind::forward_inference, act, fwd, src, none, wl, wi, bias, dst, none), eng);
        vanilla_rnn_forward::primitive_desc tr(
            vanilla_rnn_forward::desc(prop_kind::forward_training, act, fwd, src, none, wl, wi, bias, dst, none), eng);
        vanilla_rnn_backward::primitive_desc bw(vanilla_rnn_backward::desc(prop_kind::backward, act, fwd, src, none, wl,
                                                                           wi, bias, dst, none, dsrc, none, wl, wi,
                                                                           bias, dst, none),
                                                eng, tr);
        p = {inf, tr, bw};
    }
    return p;
}

memory::desc arg_md(const primitive_desc &pd, int arg) { return pd.query_md(query::exec_arg_md, arg); }

/* Times one configuration and prints its line; returns 0, or 1 when the
 * guard on the inference output fails. */
int bench(const Config &c, const engine &eng, stream &s)
{
    const memory::dim G = c.cell == "lstm" ? 4 : c.cell == "gru" ? 3 : 1;
    const memory::dim Gb = c.cell == "gru" ? 4 : G;
    Prims p = make_prims(c, eng);
    std::mt19937 rng(7);

    /* Plain parameters and data, the way a user holds them. */
    const float scale = 1.0f / std::sqrt((float)c.h); /* PyTorch's init range */
    const memory::dim L = c.layers;
    memory wl_plain({{L, 1, c.i, G, c.h}, dt::f32, tag::ldigo}, eng);
    memory wi_plain({{L, 1, c.h, G, c.h}, dt::f32, tag::ldigo}, eng);
    memory b_plain({{L, 1, Gb, c.h}, dt::f32, tag::ldgo}, eng);
    memory x({{c.t, c.b, c.i}, dt::f32, tag::tnc}, eng);
    memory target({{c.t, c.b, c.h}, dt::f32, tag::tnc}, eng);
    fill_uniform(wl_plain, rng, scale);
    fill_uniform(wi_plain, rng, scale);
    fill_uniform(b_plain, rng, scale);
    fill_uniform(x, rng, 1.0f);
    fill_uniform(target, rng, 1.0f);

    /* Forward inference: weights reordered once into the chosen layout. */
    primitive inf(p.fwd_inf);
    memory wl_inf = in_layout(wl_plain, arg_md(p.fwd_inf, DNNL_ARG_WEIGHTS_LAYER), eng, s);
    memory wi_inf = in_layout(wi_plain, arg_md(p.fwd_inf, DNNL_ARG_WEIGHTS_ITER), eng, s);
    memory b_inf = in_layout(b_plain, arg_md(p.fwd_inf, DNNL_ARG_BIAS), eng, s);
    memory y_inf(arg_md(p.fwd_inf, DNNL_ARG_DST_LAYER), eng);
    std::unordered_map<int, memory> inf_args = {{DNNL_ARG_SRC_LAYER, x},
                                                {DNNL_ARG_WEIGHTS_LAYER, wl_inf},
                                                {DNNL_ARG_WEIGHTS_ITER, wi_inf},
                                                {DNNL_ARG_BIAS, b_inf},
                                                {DNNL_ARG_DST_LAYER, y_inf}};
    long fwd_base = peak_start();
    Timing fwd = time_op([&] {
        inf.execute(s, inf_args);
        s.wait();
    });

    /* Training: forward weights must be plain, for the SGD step. */
    primitive tr(p.fwd_train), bw(p.bwd);
    memory wl = in_layout(wl_plain, arg_md(p.fwd_train, DNNL_ARG_WEIGHTS_LAYER), eng, s);
    memory wi = in_layout(wi_plain, arg_md(p.fwd_train, DNNL_ARG_WEIGHTS_ITER), eng, s);
    memory b = in_layout(b_plain, arg_md(p.fwd_train, DNNL_ARG_BIAS), eng, s);
    memory dwl(arg_md(p.bwd, DNNL_ARG_DIFF_WEIGHTS_LAYER), eng);
    memory dwi(arg_md(p.bwd, DNNL_ARG_DIFF_WEIGHTS_ITER), eng);
    memory db(arg_md(p.bwd, DNNL_ARG_DIFF_BIAS), eng);
    const memory params[3] = {wl, wi, b}, grads[3] = {dwl, dwi, db};
    for (int k = 0; k < 3; k++)
        if (!is_plain(params[k].get_desc()) || !(params[k].get_desc() == grads[k].get_desc())) {
            std::fprintf(stderr,
                         "rnn_onednn: %s: training weights or their gradients are not in one "
                         "plain layout; the SGD step here cannot update them\n",
                         c.cell.c_str());
            return 1;
        }
    /* The backward primitive may want the weights in another layout. */
    memory::desc wl_bmd = arg_md(p.bwd, DNNL_ARG_WEIGHTS_LAYER);
    memory::desc wi_bmd = arg_md(p.bwd, DNNL_ARG_WEIGHTS_ITER);
    memory wl_b = wl_bmd == wl.get_desc() ? wl : memory(wl_bmd, eng);
    memory wi_b = wi_bmd == wi.get_desc() ? wi : memory(wi_bmd, eng);
    memory y(arg_md(p.fwd_train, DNNL_ARG_DST_LAYER), eng);
    memory ws(arg_md(p.fwd_train, DNNL_ARG_WORKSPACE), eng);
    memory dy(arg_md(p.bwd, DNNL_ARG_DIFF_DST_LAYER), eng);
    memory dx(arg_md(p.bwd, DNNL_ARG_DIFF_SRC_LAYER), eng);
    if (!(y.get_desc() == target.get_desc()) || !(dy.get_desc() == target.get_desc())) {
        std::fprintf(stderr, "rnn_onednn: outputs not in the tnc layout asked for\n");
        return 1;
    }
    std::unordered_map<int, memory> tr_args = {{DNNL_ARG_SRC_LAYER, x},     {DNNL_ARG_WEIGHTS_LAYER, wl},
                                               {DNNL_ARG_WEIGHTS_ITER, wi}, {DNNL_ARG_BIAS, b},
                                               {DNNL_ARG_DST_LAYER, y},     {DNNL_ARG_WORKSPACE, ws}};
    std::unordered_map<int, memory> bw_args = {{DNNL_ARG_SRC_LAYER, x},
                                               {DNNL_ARG_WEIGHTS_LAYER, wl_b},
                                               {DNNL_ARG_WEIGHTS_ITER, wi_b},
                                               {DNNL_ARG_BIAS, b},
                                               {DNNL_ARG_DST_LAYER, y},
                                               {DNNL_ARG_WORKSPACE, ws},
                                               {DNNL_ARG_DIFF_DST_LAYER, dy},
                                               {DNNL_ARG_DIFF_SRC_LAYER, dx},
                                               {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl},
                                               {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi},
                                               {DNNL_ARG_DIFF_BIAS, db}};

    /* The guard: inference on the chosen (maybe packed) weights must give
     * the training forward's output on plain weights.  Both sum the same
     * I + H products per output in possibly different orders: 1e-4 absolute
     * is ~100x the float rounding of such sums with |w| <= 1/sqrt(H), and
     * far below what computing on misread weights would give. */
    inf.execute(s, inf_args);
    if (!(wl_b == wl)) reorder(wl, wl_b).execute(s, wl, wl_b);
    if (!(wi_b == wi)) reorder(wi, wi_b).execute(s, wi, wi_b);
    tr.execute(s, tr_args);
    s.wait();
    double maxdiff = 0;
    for (size_t k = 0; k < nfloats(y); k++)
        maxdiff = std::max(maxdiff, (double)std::fabs(floats(y)[k] - floats(y_inf)[k]));
    if (!(maxdiff <= 1e-4)) {
        std::fprintf(stderr, "rnn_onednn: %s: inference and training outputs differ by %g\n", c.cell.c_str(), maxdiff);
        return 1;
    }

    const float lr = 1e-3f, gscale = 2.0f / (float)nfloats(y);
    long fwd_peak = status_kib("VmHWM"), train_base = peak_start();
    Timing train = time_op([&] {
        tr.execute(s, tr_args);
        s.wait();
        float *py = floats(y), *pt = floats(target), *pd = floats(dy);
        for (size_t k = 0, n = nfloats(y); k < n; k++) pd[k] = gscale * (py[k] - pt[k]);
        for (const memory &g : grads) std::memset(g.get_data_handle(), 0, g.get_desc().get_size());
        bw.execute(s, bw_args);
        s.wait();
        for (int k = 0; k < 3; k++) {
            float *w = floats(params[k]);
            const float *g = floats(grads[k]);
            for (size_t e = 0, n = nfloats(params[k]); e < n; e++) w[e] -= lr * g[e];
        }
        if (!(wl_b == wl)) reorder(wl, wl_b).execute(s, wl, wl_b);
        if (!(wi_b == wi)) reorder(wi, wi_b).execute(s, wi, wi_b);
        s.wait();
    });

    std::printf("onednn %s %ld %ld %ld %ld threads=%d fwd_ms=%.4f fwd_spread=%.1f%% "
                "train_ms=%.4f train_spread=%.1f%%",
                c.label.c_str(), c.i, c.h, c.b, c.t, omp_get_max_threads(), fwd.ms, fwd.spread_pct, train.ms,
                train.spread_pct);
    long train_peak = status_kib("VmHWM");
    if (fwd_base >= 0 && train_base >= 0)
        std::printf(" fwd_base_mb=%.1f fwd_peak_mb=%.1f train_base_mb=%.1f train_peak_mb=%.1f", fwd_base / 1024.0,
                    fwd_peak / 1024.0, train_base / 1024.0, train_peak / 1024.0);
    std::printf("\n");
    std::fflush(stdout);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    std::vector<Config> configs;
    if (argc == 6) {
        std::string cell = argv[1];
        long layers = cell == "lstm2" ? 2 : 1;
        Config c{layers == 2 ? "lstm" : cell,
                 std::atol(argv[2]),
                 std::atol(argv[3]),
                 std::atol(argv[4]),
                 std::atol(argv[5]),
                 layers,
                 cell};
        if ((c.cell != "lstm" && c.cell != "gru" && c.cell != "rnn") || c.i <= 0 || c.h <= 0 || c.b <= 0 || c.t <= 0 ||
            (layers > 1 && c.i != c.h)) {
            std::fprintf(stderr, "usage: rnn_onednn [lstm|gru|rnn|lstm2 I H B T] (lstm2: I = H)\n");
            return 2;
        }
        configs.push_back(c);
    } else if (argc == 1) {
        for (const char *cell : kCells)
            for (const auto &sh : kShapes) configs.push_back({cell, sh[0], sh[0], sh[1], sh[2], 1, cell});
    } else {
        std::fprintf(stderr, "usage: rnn_onednn [lstm|gru|rnn|lstm2 I H B T] (lstm2: I = H)\n");
        return 2;
    }
    try {
        engine eng(engine::kind::cpu, 0);
        stream s(eng);
        for (const Config &c : configs)
            if (bench(c, eng, s)) return 1;
    } catch (const dnnl::error &e) {
        std::fprintf(stderr, "rnn_onednn: oneDNN error: %s (status %d)\n", e.what(), (int)e.status);
        return 1;
    }
    return 0;
}
