/* llvm_api.h - the model API of docs/c-api.md in an LLVM module, for
 * `rnnc compile --emit=llvm|asm|obj`: the model's descriptor
 * (runtime/model_api.h) as constant globals and PREFIX_create,
 * PREFIX_forward, ... as small functions that call runtime/model_api.c
 * (librnnrt.a) with it.  They have the signatures the C backend's header
 * declares (`rnnc compile --header`, c_api.c), so a program built on that
 * header links with the object and librnnrt.a instead of the C file.
 *
 * The slot decisions are api_slots.h's, the ones the C file's API makes. */
#ifndef RNNC_LLVM_API_H
#define RNNC_LLVM_API_H

#include <stddef.h>

#include <llvm-c/Core.h>

#include "target/api_slots.h"

/* Adds the descriptor d (api_slots.h: built from kernels already in mod)
 * and the API functions.  Returns 0, or -1 with a message. */
int llvm_api_emit(LLVMModuleRef mod, const ApiDesc *d, char *err, size_t errlen);

#endif
