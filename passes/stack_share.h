/* stack_share.h - a scan stores each per-step value once.
 *
 * After autodiff and sink, the backward scan of a cell whose products
 * merge_linear joined can stack the same step value more than once: the
 * weight gradients of the joined x-side and h-side products each stack the
 * concat of the four gate gradients (two concats until cse makes them
 * one), and each gate's bias gradient stacks that gate's part of it.  At
 * an LSTM 256, B = 32, T = 100 each [T, B, 4H] copy is 13 MB written in
 * the loop and read after it, the built-in lstm's one.  stack_share()
 * rewrites, in every scan of the top block:
 *   - a stacked output whose yield is another stacked output's yield:
 *     its readers read the first;
 *   - a stacked output whose yield is an operand of a concat (along the
 *     last axis, as every concat) that is itself a stacked output: its
 *     readers read a slice of that output, after the scan;
 * and removes the outputs nothing reads any more.  The values are the same
 * floats, so nothing numerical changes.  Returns the number of outputs
 * removed, or -1 with a message (a module that does not verify: a
 * compiler bug). */
#ifndef RNNC_STACK_SHARE_H
#define RNNC_STACK_SHARE_H

#include <stddef.h>

#include "ir/ir.h"

int stack_share(IrModule *m, char *err, size_t errlen);

#endif
