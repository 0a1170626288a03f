# rnnc - build, test, install.
#
#   make               build/rnnc
#   make demo          install missing tools (as root), build, run the demo
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
ifeq ($(SAN),1)
  ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS    += -fsanitize=address,undefined
endif

LIB_SRCS := $(wildcard frontend/*.c ir/*.c passes/*.c backend/*.c runtime/*.c)
GEN_SRCS := $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.c
DRV_SRCS := $(wildcard driver/*.c)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TOOL_SRCS := $(wildcard tests/tools/*.c)
BENCH_SRCS := $(wildcard bench/*.c)

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(GEN_SRCS:$(BUILD)/gen/%.c=$(BUILD)/obj/gen/%.o)
DRV_OBJS := $(DRV_SRCS:%.c=$(BUILD)/obj/%.o)
TESTS    := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS    := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
BENCHES  := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all lib tests demo test check install clean deps bench
all: $(BUILD)/rnnc

lib: $(BUILD)/librnnc.a

$(BUILD)/rnnc: $(DRV_OBJS) $(BUILD)/librnnc.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/librnnc.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The SIMD kernels alone are compiled for their instruction sets; cpu.c
# decides at run time whether they may run, so the binary runs anywhere.
$(BUILD)/obj/runtime/sgemm_avx2.o: ALL_CFLAGS += -mavx2 -mfma
$(BUILD)/obj/runtime/sgemm_avx512.o: ALL_CFLAGS += -mavx512f
# No -mfma for vmath: without FMA instructions no compiler can fuse a
# multiply-add, so the AVX2 path rounds exactly like the portable C one.
$(BUILD)/obj/runtime/vmath_avx2.o: ALL_CFLAGS += -mavx2

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

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/librnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -MMD -MP -MF $@.d -o $@ $< $(BUILD)/librnnc.a -lcmocka $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/librnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -MMD -MP -MF $@.d -o $@ $< $(BUILD)/librnnc.a $(LDLIBS)

# Benchmarks print a table (docs/performance.md keeps the latest); they
# never assert.  Always optimized, whatever OPT says.
bench: $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done

$(BUILD)/bench/%: bench/%.c $(BUILD)/librnnc.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O2 $(LDFLAGS) -MMD -MP -MF $@.d -o $@ $< $(BUILD)/librnnc.a $(LDLIBS)

deps:
	@sh scripts/deps.sh

# The README's two commands.
demo: deps
	$(MAKE) all
	sh examples/demo.sh $(BUILD)/rnnc

# The tests run on the sanitizer build; the clang build proves the sources
# are warning-free under both compilers.
test: deps
	$(MAKE) all tests
	$(MAKE) BUILD=build-clang CC=clang CFLAGS="-O1 -Werror" all tests
	$(MAKE) BUILD=build-san SAN=1 OPT=-O1 tests
	sh tests/run_all.sh build-san

install: $(BUILD)/rnnc
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/rnnc $(DESTDIR)$(PREFIX)/bin/rnnc

clean:
	rm -rf build build-san build-clang

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
