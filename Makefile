# ksearch — build, test, bench.
#   make deps         install the Debian packages ksearch needs (apt-get, as root or sudo)
#   make              the ksearch binary (./ksearch) and the module libraries
#   make quickstart   build and run the quickstart
#   make test         build and run every test (ends with "N passed, N failed")
#   make SAN=1 test   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make valgrind     the unit test programs under valgrind (leaks are errors)
#   make bench        the benchmarks (installs their own peers; see bench/README.md)
#   CC=clang make     any C11 compiler; changing CC, SAN or CFLAGS rebuilds everything

CC      ?= cc
SAN     ?=
BUILD   := build$(if $(SAN),-san)

PKGS    := openblas
# deferred (=): read when used, so that a build right after `make deps` sees the packages
CPPFLAGS_BASE = -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
ifeq ($(SAN),)
OPT     := -O3 -g
SANFLAGS :=
else
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
CFLAGS  ?=
ALL_CFLAGS := -std=c11 $(WARN) $(OPT) -fno-math-errno $(SANFLAGS) $(CFLAGS) -MMD -MP
LDLIBS  = $(or $(shell pkg-config --libs $(PKGS) 2>/dev/null),-lopenblas) -lgsl -lyaml -lsqlite3 -lz -lpthread -lm

ENGINE_SRC  := $(wildcard engine/*.c)
TRACKER_SRC := $(wildcard tracker/*.c)
SEARCH_SRC  := $(filter-out search/cli%.c,$(wildcard search/*.c))
CLI_SRC     := $(wildcard search/cli*.c)
TEST_SRC    := $(wildcard tests/test_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
ENGINE_LIB  := $(BUILD)/libksengine.a
TRACKER_LIB := $(BUILD)/libkstracker.a
SEARCH_LIB  := $(BUILD)/libkssearch.a
LIBS        := $(SEARCH_LIB) $(TRACKER_LIB) $(ENGINE_LIB)
BIN         := $(BUILD)/ksearch
TESTS       := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))

.PHONY: all deps quickstart test valgrind bench clean
# keep objects of test programs between runs
.SECONDARY:
all: $(BIN) $(if $(SAN),,ksearch)

ksearch: $(BIN)
	ln -sf $(BIN) ksearch

# changing the compiler or flags rebuilds everything
FLAGS_FILE := $(BUILD)/.flags
$(shell mkdir -p $(BUILD) && echo '$(CC) $(ALL_CFLAGS) $(CPPFLAGS_BASE)' | cmp -s - $(FLAGS_FILE) || echo '$(CC) $(ALL_CFLAGS) $(CPPFLAGS_BASE)' > $(FLAGS_FILE))

$(BUILD)/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_BASE) $(ALL_CFLAGS) -c $< -o $@

$(ENGINE_LIB): $(call obj,$(ENGINE_SRC))
	rm -f $@ && ar rcs $@ $^
$(TRACKER_LIB): $(call obj,$(TRACKER_SRC))
	rm -f $@ && ar rcs $@ $^
$(SEARCH_LIB): $(call obj,$(SEARCH_SRC))
	rm -f $@ && ar rcs $@ $^

$(BIN): $(call obj,$(CLI_SRC)) $(LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $(call obj,$(CLI_SRC)) $(LIBS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

deps:
	bash .ci/install-deps

quickstart: all
	./ksearch studies/quickstart.yaml --fresh

test: $(BIN) $(TESTS)
	@KSEARCH=$(abspath $(BIN)) bash tests/run_tests.sh $(BUILD)

valgrind: $(TESTS)
	@VALGRIND=1 KSEARCH=$(abspath $(BIN)) bash tests/run_tests.sh $(BUILD) --unit-only

# the engine benchmarks link the engine with their allocation counters and sgemm timer
BENCH_WRAP := $(foreach f,malloc calloc realloc aligned_alloc posix_memalign strdup strndup cblas_sgemm,-Wl,--wrap=$(f))
$(BUILD)/bench/bench_%: $(BUILD)/bench/bench_%.o $(ENGINE_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ENGINE_LIB) $(BENCH_WRAP) $(LDLIBS)

# the PyTorch parity check of the convolutional layers links the engine as the tests do
$(BUILD)/bench/parity_%: $(BUILD)/bench/parity_%.o $(ENGINE_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ENGINE_LIB) $(LDLIBS)

bench: $(BIN) $(BUILD)/bench/bench_engine $(BUILD)/bench/bench_cnn
	bash bench/run.sh $(BUILD)/bench/bench_engine
	bash bench/cnn.sh $(BUILD)/bench/bench_cnn
	bash bench/search.sh $(BIN)
	bash bench/tracker_overhead.sh $(BIN)

# the CNN against PyTorch; the search benchmark (methods at one epoch budget, Optuna,
# parallel speedup); the tracker's cost
.PHONY: bench-cnn bench-parity bench-search bench-tracker
bench-cnn: $(BUILD)/bench/bench_cnn
	bash bench/cnn.sh $(BUILD)/bench/bench_cnn
bench-parity: $(BUILD)/bench/parity_conv
	bash bench/parity.sh $(BUILD)/bench/parity_conv
bench-search: $(BIN)
	bash bench/search.sh $(BIN)
bench-tracker: $(BIN)
	bash bench/tracker_overhead.sh $(BIN)

clean:
	rm -rf build build-san ksearch

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
