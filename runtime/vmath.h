/* vmath.h - vectorised exp, tanh and sigmoid over float arrays.
 *
 * The activations of an RNN step (gates, candidate states) are these three
 * functions applied to whole vectors; calling libm per element is the
 * bottleneck once the matrix products are fast.  These run a Cephes-style
 * algorithm (range reduction + polynomial, in fused multiply-adds) on 8
 * floats at a time with AVX2 and FMA, or one at a time in plain C.  Both
 * paths perform the same float operations in the same order, their FMAs
 * as explicit fused operations (fmaf, exactly rounded whether the
 * instruction or libm computes it) and nothing else contracted, so they
 * give bit-identical results and a model computes the same numbers on
 * every machine.
 *
 * The path is picked at run time by runtime/cpu.h (RNNC_CPU forces one).
 *
 * Accuracy against double-precision libm (error = |y - f(x)| in units of
 * the float ulp at the true f(x); below FLT_MIN the ulp is the denormal
 * spacing 2^-149), measured by tests/tools/vmath_ulp over every 17th float
 * bit pattern (252 million inputs, every exponent; the paths give the
 * same bits, which the tool checks input by input):
 *     rt_vexp      bound 1.1 ulp   (measured 1.002, at x = 48.2014465;
 *                                   over all 2^32 inputs 1.010, at x =
 *                                   -5.87788439)
 *     rt_vtanh     bound 2.0 ulp   (measured 1.874, at x = -0.51202637;
 *                                   over all 2^32 inputs 1.906, at x =
 *                                   0.51095885)
 *     rt_vsigmoid  bound 2.5 ulp   (measured 2.402, at x = -5.54275513;
 *                                   over all 2^32 inputs 2.402, at x =
 *                                   -4.1572938)
 * tanh's bound: one rounding each of its numerator, its denominator and
 * their quotient (1.5 ulp at most), plus what e = 2^n (1 + q) carries from
 * the polynomial and the reduction (measured: under 0.4 ulp of the
 * result).  The tanh of two branches it replaces measured 1.330 (all
 * 2^32 inputs), exp 0.990, sigmoid 2.402: docs/performance.md,
 * "Activations with FMA".
 * tests/unit/test_vmath.c asserts these bounds over every 1021st bit
 * pattern plus the special values, on every path (the sweep itself sees
 * 0.987, 1.826 and 2.136).
 * The ulp criterion applies everywhere, including near 0 (tanh(x) is x
 * there, to the ulp) and for denormal outputs (exp and sigmoid of very
 * negative x), which is stricter than a relative-or-absolute criterion.
 *
 * Exact cases: exp(-inf) = 0, exp(+inf) = +inf, exp(x) = +inf once the true
 * value rounds past FLT_MAX (x > 88.7228394) and 0 once it rounds below
 * the smallest denormal (x < -103.972084); tanh(+-inf) = +-1, tanh(+-0) =
 * +-0; sigmoid(-inf) = 0, sigmoid(+inf) = 1; NaN in gives NaN out.  tanh
 * and sigmoid never overflow inside: they only ever take exp of -|x|.
 *
 * y and x may be the same array (in place); otherwise they must not
 * overlap.  n <= 0 does nothing. */
#ifndef RNNC_VMATH_H
#define RNNC_VMATH_H

#include <stdint.h>

#include "runtime/cpu.h"
#include "runtime/rnnrt.h" /* must agree with these declarations */

RT_API void rt_vexp(float *y, const float *x, int64_t n);
RT_API void rt_vtanh(float *y, const float *x, int64_t n);
RT_API void rt_vsigmoid(float *y, const float *x, int64_t n);

/* The same on a chosen path (tests use these to check every path); a path
 * this CPU or build cannot run falls back to the best one below it. */
RT_API void rt_vexp_on(RtCpuPath path, float *y, const float *x, int64_t n);
RT_API void rt_vtanh_on(RtCpuPath path, float *y, const float *x, int64_t n);
RT_API void rt_vsigmoid_on(RtCpuPath path, float *y, const float *x, int64_t n);

#endif
