# rnnc - build, test, install.
#
#   make               build/rnnc
#   make demo          install missing tools (as root), build, run the demo:
#                      train, sample, compile to C, build and run a program
#   make test          install missing tools, run every test under ASan+UBSan
#   make install PREFIX=/usr/local
#
# Sources are found by wildcard: a new .c file in a source folder is part of
# the build with no edit here; a new tests/unit/test_*.c is a new test binary.

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
SAN     ?=
OPT     ?= -O2

WARN    := -Wall -Wextra
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -I. -I$(BUILD)/gen -pthread
LDLIBS  := -lm -pthread
# Every program linked with librnnc.a exports the runtime's rt_* functions:
# the C engine's compiled models call them (exec/cengine.h).
RT_EXPORT := -Wl,--export-dynamic-symbol=rt_*

# LLVM 14 (the JIT, target/llvm/*.c), found with llvm-config.  Its
# headers are system headers (-isystem: their warnings are not ours); only
# the target/llvm objects get its other flags.
# A given LLVM_CONFIG that does not run is reported as missing too.
LLVM_CONFIG ?= $(shell command -v llvm-config-14 || command -v llvm-config)
LLVM_INCDIR := $(if $(LLVM_CONFIG),$(shell $(LLVM_CONFIG) --includedir 2>/dev/null))
ifeq ($(LLVM_INCDIR),)
  ifeq ($(filter clean deps demo test,$(MAKECMDGOALS)),)
    $(error llvm-config not found$(if $(LLVM_CONFIG), or not working ($(LLVM_CONFIG))): the JIT needs LLVM 14 (make deps, or apt-get install llvm-14-dev; or set LLVM_CONFIG=/path/to/llvm-config))
  endif
endif
LLVM_CFLAGS := $(patsubst -I%,-isystem %,$(shell $(LLVM_CONFIG) --cflags 2>/dev/null))
LLVM_LIBDIR := $(shell $(LLVM_CONFIG) --libdir 2>/dev/null)
ALL_CFLAGS  += -isystem $(LLVM_INCDIR)
LDLIBS      := $(shell $(LLVM_CONFIG) --ldflags --libs core orcjit native passes bitreader linker --system-libs 2>/dev/null) \
               -Wl,-rpath,$(LLVM_LIBDIR) $(LDLIBS) $(RT_EXPORT)
$(BUILD)/obj/target/llvm/%.o: ALL_CFLAGS += $(LLVM_CFLAGS)

# clang of LLVM's own version compiles the JIT's math to bitcode
# (target/llvm/bitcode/jit_math.c; see its rule below): LLVM reads bitcode
# of its version or older only.  clang-14 when there is one, else clang,
# whose version the rule checks.
LLVM_MAJOR := $(firstword $(subst ., ,$(shell $(LLVM_CONFIG) --version 2>/dev/null)))
CLANG_BC   ?= $(shell command -v clang-$(LLVM_MAJOR) || command -v clang)
ifeq ($(CLANG_BC),)
  ifeq ($(filter clean deps demo test,$(MAKECMDGOALS)),)
    $(error clang not found: the JIT's math (runtime/vmath_inline.h) is compiled to LLVM bitcode by clang $(LLVM_MAJOR) (make deps, or apt-get install clang-$(LLVM_MAJOR); or set CLANG_BC=/path/to/clang))
  endif
endif
# MPI (data-parallel `rnnc train` under mpirun, docs/distributed.md),
# found like LLVM: mpicc's flags (Open MPI's --showme), else pkg-config
# ompi-c.  Found, driver/dist_mpi.c is the driver's distributed layer and
# rnnc links libmpi; not found (or MPI=0), driver/dist_serial.c, one
# process, and rnnc builds as without it.  Its headers are system headers.
MPI     ?= 1
MPICC   ?= $(shell command -v mpicc)
ifeq ($(MPI),1)
  MPI_CFLAGS := $(if $(MPICC),$(shell $(MPICC) --showme:compile 2>/dev/null))
  MPI_LIBS   := $(if $(MPI_CFLAGS),$(shell $(MPICC) --showme:link 2>/dev/null))
  ifeq ($(MPI_LIBS),)
    MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
    MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)
  endif
endif
HAVE_MPI := $(if $(MPI_LIBS),1)
ifeq ($(SAN),1)
  ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS    += -fsanitize=address,undefined
endif
# The fuzzers' build (make fuzz, below): clang's coverage for libFuzzer in
# every object, the fuzzer's own main only in the fuzz targets.
ifeq ($(SAN),fuzz)
  ALL_CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS    += -fsanitize=address,undefined
endif

LIB_SRCS := $(wildcard frontend/*.c ir/*.c passes/*.c kir/*.c lower/*.c target/*.c target/c/*.c \
                      target/llvm/*.c exec/*.c io/*.c runtime/*.c)
GEN_SRCS := $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.c $(BUILD)/gen/rt_source_text.c \
            $(BUILD)/gen/model_api_text.c $(BUILD)/gen/model_api_decls_text.c \
            $(BUILD)/gen/vmath_inline_text.c $(BUILD)/gen/rnnrt_h_text.c $(BUILD)/gen/jit_math_bc.c
DRV_SRCS := $(filter-out driver/dist_$(if $(HAVE_MPI),serial,mpi).c,$(wildcard driver/*.c))
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TOOL_SRCS := $(wildcard tests/tools/*.c)
BENCH_SRCS := $(wildcard bench/*.c)

ifeq ($(HAVE_MPI),1)
  $(BUILD)/obj/driver/dist_mpi.o: ALL_CFLAGS += -DRNNC_HAVE_MPI $(patsubst -I%,-isystem %,$(MPI_CFLAGS))
  # only what links the driver: rnnc and the fuzzers (librnncdrv.a)
  $(BUILD)/rnnc $(BUILD)/fuzz/%: LDLIBS += $(MPI_LIBS)
endif

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(GEN_SRCS:$(BUILD)/gen/%.c=$(BUILD)/obj/gen/%.o)
DRV_OBJS := $(DRV_SRCS:%.c=$(BUILD)/obj/%.o)
TESTS    := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS    := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
BENCHES  := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all lib tests tools syntax demo test check install clean deps bench format diff-long fuzz fuzzers
all: $(BUILD)/rnnc $(BUILD)/librnnrt.a

lib: $(BUILD)/librnnc.a

$(BUILD)/rnnc: $(DRV_OBJS) $(BUILD)/librnnc.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/librnnc.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The runtime alone, what a model emitted with --runtime=link links against
# (with runtime/rnnrt.h).  RT_AMALG is the same code in the order the
# amalgamation (--runtime=inline, target/c/rt_source.h) pastes it: headers
# in dependency order, then the sources.
RT_SRCS  := runtime/cpu.c runtime/sgemm.c runtime/sgemm_scalar.c runtime/sgemm_avx2.c \
            runtime/sgemm_avx512.c runtime/vmath.c runtime/vmath_avx2.c runtime/nn_kernels.c \
            runtime/dropout.c runtime/threadpool.c runtime/sgemm_mt.c runtime/sgemm_matvec.c \
            runtime/sgemm_pack.c
RT_AMALG := runtime/rnnrt.h runtime/cpu.h runtime/sgemm.h runtime/sgemm_kernels.h runtime/vmath_inline.h \
            runtime/vmath.h runtime/vmath_kernels.h runtime/threadpool.h $(RT_SRCS)

# The library also has the model API (runtime/model_api.h), which object
# files of `rnnc compile --emit=obj` and C files of --runtime=link call; a
# C file with the runtime inline carries it as text instead.  Its weights
# files go through the safetensors reader and writer that rnnc uses too
# (runtime/st_format.c, on the JSON scanner runtime/st_json.c).
RT_ST_SRCS  := runtime/st_json.h runtime/st_json.c runtime/st_format.h runtime/st_format.c runtime/st_loader.h \
               runtime/sizes.h runtime/sizes.c
RT_LIB_SRCS := $(RT_SRCS) runtime/st_json.c runtime/st_format.c runtime/sizes.c runtime/model_api.c

$(BUILD)/librnnrt.a: $(RT_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/gen/rt_source_text.c: scripts/rt_source.sh $(RT_AMALG)
	@mkdir -p $(BUILD)/gen
	sh scripts/rt_source.sh $(RT_AMALG) > $@.tmp && mv $@.tmp $@

# The model API (runtime/model_api.h, .c with the safetensors code
# $(RT_ST_SRCS), in that order): compiled into librnnrt.a, and carried as
# text by a generated C file (target/c/c_api.c).
$(BUILD)/gen/model_api_decls_text.c: scripts/c_text.sh runtime/model_api.h
	@mkdir -p $(BUILD)/gen
	sh scripts/c_text.sh model_api_decls_text runtime/model_api.h > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/model_api_text.c: scripts/c_text.sh $(RT_ST_SRCS) runtime/model_api.c
	@mkdir -p $(BUILD)/gen
	sh scripts/c_text.sh model_api_text $(RT_ST_SRCS) runtime/model_api.c > $@.tmp && mv $@.tmp $@

# The inline activations (runtime/vmath_inline.h): in the amalgamation,
# and pasted alone after #include "rnnrt.h" by a --runtime=link C file,
# whose element-wise loops call them.
$(BUILD)/gen/vmath_inline_text.c: scripts/c_text.sh runtime/vmath_inline.h
	@mkdir -p $(BUILD)/gen
	sh scripts/c_text.sh vmath_inline_text runtime/vmath_inline.h > $@.tmp && mv $@.tmp $@
# rnnrt.h alone, which the C engine pastes before the kernels it compiles.
$(BUILD)/gen/rnnrt_h_text.c: scripts/c_text.sh runtime/rnnrt.h
	@mkdir -p $(BUILD)/gen
	sh scripts/c_text.sh rnnrt_h_text runtime/rnnrt.h > $@.tmp && mv $@.tmp $@

# The math of the LLVM target's maps (target/llvm/llvm_math.h): the C of
# target/llvm/bitcode/jit_math.c, which includes runtime/vmath_inline.h,
# compiled to LLVM bitcode and embedded in the library as bytes.  Not with
# $(CC) nor its flags: LLVM's own clang, optimized (the functions arrive
# as clean straight-line IR), no FMA contraction (-ffp-contract=off, as the
# C engine), no errno from libm calls (-fno-math-errno: logf becomes
# llvm.log.f32, the same libm call, which does not stop vectorization), no
# -march (llvm_math.c removes the target attributes), no
# sanitizers; and nothing that would become module flags or metadata of
# every module it is linked into (no PIC/PIE level, unwind tables, ident).
CLANG_BC_FLAGS := -std=c11 -O2 -ffp-contract=off -fno-math-errno -fno-pic -fno-asynchronous-unwind-tables \
                  -fno-stack-protector -fno-ident -Wall -Wextra -Werror
$(BUILD)/gen/jit_math.bc: target/llvm/bitcode/jit_math.c
	@mkdir -p $(BUILD)/gen
	@v=$$($(CLANG_BC) --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1); \
	 [ "$$v" = "$(LLVM_MAJOR)" ] || { echo "$(CLANG_BC) is clang $${v:-?}, LLVM is $(LLVM_MAJOR): the JIT's math needs clang $(LLVM_MAJOR) (apt-get install clang-$(LLVM_MAJOR), or set CLANG_BC)" >&2; exit 1; }
	$(CLANG_BC) $(CLANG_BC_FLAGS) -I. -MMD -MP -MF $@.d -emit-llvm -c -o $@ $<
$(BUILD)/gen/jit_math_bc.c: scripts/c_bytes.sh $(BUILD)/gen/jit_math.bc
	sh scripts/c_bytes.sh jit_math_bc $(BUILD)/gen/jit_math.bc > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The SIMD kernels need no -m flags: each kernel function names its
# instruction set in a target attribute (runtime/cpu.h, RT_TARGET), so the
# runtime also compiles as one file; cpu.c decides at run time whether they
# may run, so the binary runs anywhere.

# Generated code is compiled with the same warnings; flex/bison output that
# trips -Wextra is silenced by %option and %define in the sources instead.
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-unused-function -Wno-sign-compare -MMD -MP -c -o $@ $<

# One rule makes both files (bison writes them together); the header
# depends on the .c so that make -j never runs bison twice.
$(BUILD)/gen/parser.c: frontend/parser.y
	@mkdir -p $(BUILD)/gen
	bison -Wall -o $(BUILD)/gen/parser.c --defines=$(BUILD)/gen/parser.h $<
$(BUILD)/gen/parser.h: $(BUILD)/gen/parser.c

$(BUILD)/gen/lexer.c: frontend/lexer.l $(BUILD)/gen/parser.h
	@mkdir -p $(BUILD)/gen
	flex -o $@ $<

# Objects that include the generated header must wait for it.
$(LIB_OBJS) $(DRV_OBJS): | $(BUILD)/gen/parser.h

tests: $(TESTS) $(TOOLS) $(BUILD)/rnnc
tools: $(TOOLS) $(BUILD)/rnnc

# Every test and tool source compiled without code or link:
# how the clang build checks them warning-free (-Werror) in `make test`
# (only the sanitizer build's tests run; linking some fifty programs a
# second time cost a minute of CI).
syntax: $(BUILD)/librnnc.a
	$(CC) $(ALL_CFLAGS) -fsyntax-only $(TEST_SRCS) $(TOOL_SRCS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/librnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -MMD -MP -MF $@.d -o $@ $< $(BUILD)/librnnc.a -lcmocka $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/librnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -MMD -MP -MF $@.d -o $@ $< $(BUILD)/librnnc.a $(LDLIBS)

# Benchmarks print a table (docs/performance.md keeps the latest); they
# never assert.  Always optimized, whatever OPT says.  bench/rnn_* are parts
# of the RNN benchmark, which bench/rnn_bench.sh runs; the oneDNN baseline is
# built only where libdnnl-dev is installed (scripts/bench_deps.sh).
# bench/stream_bench.sh: the latency of a compiled model's step at batch 1.
# bench/mpi_bench.sh (with MPI only): data-parallel steps/s for 1 and 2
# processes, and bench/mpi/allreduce_ab.c's alpha and beta of the allreduce.
BENCH_ONEDNN := $(if $(wildcard /usr/include/oneapi/dnnl/dnnl.hpp),$(BUILD)/bench/rnn_onednn)
BENCH_MPI := $(if $(HAVE_MPI),$(BUILD)/bench/mpi/allreduce_ab)
bench: $(BENCHES) $(BENCH_ONEDNN) $(BENCH_MPI) $(BUILD)/rnnc
	@for b in $(filter-out $(BUILD)/bench/rnn_%,$(BENCHES)); do $$b || exit 1; done
	@sh bench/rnn_bench.sh $(BUILD)
	@sh bench/stream_bench.sh $(BUILD)
	@$(if $(BENCH_MPI),sh bench/mpi_bench.sh $(BUILD),echo "mpi bench: skipped, this build has no MPI")

$(BUILD)/bench/mpi/allreduce_ab: bench/mpi/allreduce_ab.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra $(MPI_CFLAGS) -o $@ $< $(MPI_LIBS)

$(BUILD)/bench/rnn_onednn: bench/rnn_onednn.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -Wall -Wextra -fopenmp -o $@ $< -ldnnl

$(BUILD)/bench/%: bench/%.c $(BUILD)/librnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O2 $(LDFLAGS) -MMD -MP -MF $@.d -o $@ $< $(BUILD)/librnnc.a $(LDLIBS)

deps:
	@sh scripts/deps.sh

# The README's two commands.  The demo's build is quiet (a line, then only
# a compiler's warnings or errors) and uses every core; examples/demo.sh
# says what each of its steps does.
demo:
	@sh scripts/deps.sh demo
	@echo "building $(BUILD)/rnnc with $(NPROC) jobs..."
	@$(MAKE) -s -j$(NPROC) all
	@sh examples/demo.sh $(BUILD)/rnnc $(BUILD)/demo

# The tests run on the sanitizer build.  The gcc build gives the plain
# rnnc and tools the diff suite runs (its 200 models at half the cost);
# the clang build proves the sources warning-free under both compilers
# (the tests' and tools' without linking them: `syntax`) and, instrumented
# for libFuzzer (SAN=fuzz), gives the fuzz suite its fuzzers without a
# fourth build.  The three builds are sub-makes of one `make -j$(NPROC)`
# (test-builds), sharing its job slots: where one waits on a link or an
# archive, another compiles, so no core idles until all three are built.
# The suites then use every core (tests/run_all.sh runs them side by side).
NPROC := $(shell nproc 2>/dev/null || echo 2)
test: deps
	@echo "== the format (.clang-format; make format fixes it)"
	@sh scripts/format.sh --check
	@echo "== the builds, side by side: gcc; clang (-Werror), with the fuzzers (ASan + UBSan + libFuzzer); ASan + UBSan"
	@$(MAKE) -s -j$(NPROC) test-builds
	@echo "== the suites, on the sanitizer build"
	RNNRT_LIB=$(CURDIR)/$(BUILD)/librnnrt.a FUZZ_BUILD=build-clang sh tests/run_all.sh build-san

# (no -j in the sub-makes: they take their jobs from the make above)
.PHONY: test-builds test-build-gcc test-build-clang test-build-san
test-builds: test-build-gcc test-build-clang test-build-san
test-build-gcc:
	@$(MAKE) -s all tools
test-build-clang:
	@$(MAKE) -s BUILD=build-clang CC=$(FUZZ_CC) SAN=fuzz CFLAGS="-O1 -Werror" all fuzzers syntax
test-build-san:
	@$(MAKE) -s BUILD=build-san SAN=1 OPT=-O1 tests

# The random-model tests at scale (issue 16): 10,000 models through the
# three engines, forward and gradients, and 10,000 mutated models through
# the checker, on the plain build (DIFF_LONG_N to change the count).
DIFF_LONG_N ?= 10000
diff-long: all tests
	sh tests/diff/run.sh $(BUILD) $(DIFF_LONG_N)
	sh tests/diff/mutate.sh $(BUILD) $(DIFF_LONG_N)

# The fuzzers (issue 16; tests/fuzz/, docs/testing.md "Fuzzers"): libFuzzer
# targets built by clang with ASan + UBSan in FUZZ_BUILD, then each run for
# FUZZ_SECONDS on its corpus (tests/fuzz/run.sh; FUZZ_ONLY=name to run
# some).  `make fuzzers` alone builds them in BUILD.
FUZZ_CC      ?= clang-14
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	@$(MAKE) -s -j$(NPROC) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) SAN=fuzz OPT=-O1 fuzzers
	sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_ONLY)

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
# rnnc and randmodel make seeds (tests/fuzz/run.sh)
fuzzers: $(FUZZERS) $(BUILD)/rnnc $(BUILD)/tools/randmodel

# The driver's code a fuzzer calls (train data, checkpoints), as a library
# the linker takes only what it needs from; main.o stays out.
$(BUILD)/librnncdrv.a: $(filter-out %/main.o,$(DRV_OBJS))
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_util.h $(BUILD)/librnncdrv.a $(BUILD)/librnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d -o $@ $< \
	    $(BUILD)/librnncdrv.a $(BUILD)/librnnc.a $(LDLIBS)

# The C API fuzzer loads weights into a model that `rnnc compile` wrote:
# tests/fuzz/capi_model.rnn with its training step, prefix fz, compiled
# with the fuzzer's flags.
$(BUILD)/fuzz/capi/fz.c: $(BUILD)/rnnc tests/fuzz/capi_model.rnn
	@mkdir -p $(dir $@)
	$(BUILD)/rnnc compile tests/fuzz/capi_model.rnn --train --prefix fz -o $@ --header $(BUILD)/fuzz/capi/fz.h
$(BUILD)/fuzz/capi/fz.h: $(BUILD)/fuzz/capi/fz.c
$(BUILD)/fuzz/fuzz_capi: tests/fuzz/fuzz_capi.c tests/fuzz/fuzz_util.h $(BUILD)/fuzz/capi/fz.c $(BUILD)/fuzz/capi/fz.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I$(BUILD)/fuzz/capi $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/capi/fz.c -lm -pthread

# Formats every C file as .clang-format says (clang-format 14).
format: deps
	@sh scripts/format.sh

install: $(BUILD)/rnnc $(BUILD)/librnnrt.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(BUILD)/rnnc $(DESTDIR)$(PREFIX)/bin/rnnc
	install -m 644 runtime/rnnrt.h $(DESTDIR)$(PREFIX)/include/rnnrt.h
	install -m 644 $(BUILD)/librnnrt.a $(DESTDIR)$(PREFIX)/lib/librnnrt.a

clean:
	rm -rf build build-san build-clang

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
