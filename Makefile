# ksearch — build, test, bench.
#   make deps         install the Debian packages ksearch needs (apt-get, as root or sudo)
#   make              the ksearch binary (./ksearch) and the module libraries
#   make quickstart   build and run the quickstart
#   make test         build and run every test (ends with "N passed, N failed, N skipped")
#   make SAN=1 test   the same under AddressSanitizer + UndefinedBehaviorSanitizer (with
#                     float-cast-overflow), in build-san/ (build-san-clang/ with CC=clang)
#   make tsan         the multi-worker tests under ThreadSanitizer (make SAN=thread
#                     test-threads, in build-tsan/)
#   make fuzz         every fuzz target (tests/fuzz/, libFuzzer, clang) built in build-fuzz/
#                     and run FUZZ_SECONDS [60] each; fails on a crash (FUZZ_TARGETS to pick)
#   make MPI=1        build-mpi/ksearch with Open MPI (mpicc): mpirun -np N … STUDY.yaml
#   make valgrind     the unit test programs under valgrind (leaks are errors)
#   make bench        the benchmarks (installs their own peers; see bench/README.md)
#   CC=clang make     any C11 compiler; changing CC, SAN or CFLAGS rebuilds everything

CC      ?= cc
SAN     ?=
# one build directory per kind of build, so that switching never rebuilds another's
SAN_DIR := $(if $(filter thread,$(SAN)),-tsan,$(if $(filter fuzzer,$(SAN)),-fuzz,$(if $(SAN),-san)))
CC_DIR  := $(if $(filter fuzzer,$(SAN)),,$(if $(findstring clang,$(CC)),-clang))
BUILD   := build$(SAN_DIR)$(CC_DIR)
# make MPI=1: the MPI build (Debian's Open MPI through mpicc) in build-mpi/, for
# `mpirun -np N build-mpi/ksearch STUDY.yaml`; the plain build is unchanged
MPI     ?=
ifneq ($(MPI),)
CC      := mpicc
BUILD   := build-mpi$(SAN_DIR)
MPI_CPPFLAGS := -DKS_MPI
endif

PKGS    := openblas
# deferred (=): read when used, so that a build right after `make deps` sees the packages
CPPFLAGS_BASE = -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(MPI_CPPFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
# SAN=1: ASan + UBSan, and float-cast-overflow, which neither gcc's nor clang's
# "undefined" includes; SAN=thread: TSan; SAN=fuzzer: what libFuzzer targets link with
UBSAN   := -fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=all
ifeq ($(SAN),)
OPT     := -O3 -g
SANFLAGS :=
else ifeq ($(SAN),thread)
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=thread
else ifeq ($(SAN),fuzzer)
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=fuzzer-no-link,address $(UBSAN)
else
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address $(UBSAN)
endif
CFLAGS  ?=
ALL_CFLAGS := -std=c11 $(WARN) $(OPT) -fno-math-errno $(SANFLAGS) $(CFLAGS) -MMD -MP
LDLIBS  = $(or $(shell pkg-config --libs $(PKGS) 2>/dev/null),-lopenblas) -lgsl -lyaml -lsqlite3 -lz -lpthread -lm

ENGINE_SRC  := $(wildcard engine/*.c)
TRACKER_SRC := $(wildcard tracker/*.c)
SEARCH_SRC  := $(filter-out search/cli%.c,$(wildcard search/*.c))
CLI_SRC     := $(wildcard search/cli*.c)
TEST_SRC    := $(wildcard tests/test_*.c)
# fuzz targets: tests/fuzz/fuzz_NAME.c, one per loader; util.c and seeds{,_wire}.c are shared
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES  := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_COMMON := tests/fuzz/util.c tests/fuzz/seeds.c tests/fuzz/seeds_wire.c

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
ENGINE_LIB  := $(BUILD)/libksengine.a
TRACKER_LIB := $(BUILD)/libkstracker.a
SEARCH_LIB  := $(BUILD)/libkssearch.a
LIBS        := $(SEARCH_LIB) $(TRACKER_LIB) $(ENGINE_LIB)
BIN         := $(BUILD)/ksearch
TESTS       := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC)) $(BUILD)/tests/test_fuzz_regress

.PHONY: all deps quickstart test test-threads tsan fuzz fuzz-build valgrind bench clean
# keep objects of test programs between runs
.SECONDARY:
all: $(BIN) $(if $(SAN)$(MPI),,ksearch)

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

# ------------------------------------------------------------------ fuzzing
# In every build but the fuzzer's, each target's LLVMFuzzerTestOneInput is renamed
# ks_fuzz_NAME and test_fuzz_regress (tests/fuzz/replay.c) calls them all on their seeds
# and on the inputs kept in tests/fuzz/regress/NAME/; the list is written to a file only
# when it changes, so that adding a target rebuilds the driver.
FUZZ_LIST := $(BUILD)/tests/fuzz/fuzz_targets.def
$(shell mkdir -p $(BUILD)/tests/fuzz && echo '#define KS_FUZZ_TARGETS(X) $(foreach n,$(FUZZ_NAMES),X($(n)))' | cmp -s - $(FUZZ_LIST) || echo '#define KS_FUZZ_TARGETS(X) $(foreach n,$(FUZZ_NAMES),X($(n)))' > $(FUZZ_LIST))

$(BUILD)/tests/fuzz/fuzz_%.o: tests/fuzz/fuzz_%.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_BASE) $(ALL_CFLAGS) $(if $(filter fuzzer,$(SAN)),,-DLLVMFuzzerTestOneInput=ks_fuzz_$*) -c $< -o $@

$(BUILD)/tests/fuzz/replay.o: tests/fuzz/replay.c $(FUZZ_LIST) $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_BASE) $(ALL_CFLAGS) -I$(BUILD)/tests/fuzz -c $< -o $@

$(BUILD)/tests/test_fuzz_regress: $(call obj,tests/fuzz/replay.c $(FUZZ_COMMON) $(FUZZ_SRC)) $(LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS)

# the libFuzzer build: clang, ASan + UBSan, one program per target, and the seed writer
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(FUZZ_NAMES)
$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/fuzz_%.o $(call obj,$(FUZZ_COMMON)) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS)
$(BUILD)/fuzz_seeds: $(call obj,tests/fuzz/seeds_main.c $(FUZZ_COMMON)) $(LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS)

fuzz-build: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS)) $(BUILD)/fuzz_seeds

fuzz:
	@$(MAKE) --no-print-directory SAN=fuzzer CC=clang fuzz-build
	@bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

deps:
	bash .ci/install-deps

quickstart: all
	./ksearch studies/quickstart.yaml --fresh

test: $(BIN) $(TESTS)
	@KSEARCH=$(abspath $(BIN)) bash tests/run_tests.sh $(BUILD)

# the tests that run several threads or processes at once (for make SAN=thread)
THREAD_TESTS := test_db test_tensorboard e2e_study_parallel e2e_ensemble e2e_pruner
test-threads: $(BIN) $(filter $(addprefix $(BUILD)/tests/,$(THREAD_TESTS)),$(TESTS))
	@KSEARCH=$(abspath $(BIN)) TSAN_OPTIONS="suppressions=$(abspath tests/tsan.supp) halt_on_error=1 second_deadlock_stack=1" \
		bash tests/run_tests.sh $(BUILD) --only $(THREAD_TESTS)
tsan:
	@$(MAKE) --no-print-directory SAN=thread test-threads

valgrind: $(TESTS)
	@VALGRIND=1 KSEARCH=$(abspath $(BIN)) bash tests/run_tests.sh $(BUILD) --unit-only

# the engine benchmarks link the engine with their allocation counters and sgemm timer
BENCH_WRAP := $(foreach f,malloc calloc realloc aligned_alloc posix_memalign strdup strndup cblas_sgemm,-Wl,--wrap=$(f))
$(BUILD)/bench/bench_%: $(BUILD)/bench/bench_%.o $(ENGINE_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ENGINE_LIB) $(BENCH_WRAP) $(LDLIBS)
# the recurrent benchmark (bench/rnn.sh) reads its model as YAML text: the search library too
$(BUILD)/bench/bench_rnn: $(BUILD)/bench/bench_rnn.o $(LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBS) $(BENCH_WRAP) $(LDLIBS)

# the PyTorch parity check of the convolutional layers links the engine as the tests do
$(BUILD)/bench/parity_%: $(BUILD)/bench/parity_%.o $(ENGINE_LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ENGINE_LIB) $(LDLIBS)

bench: $(BIN) $(BUILD)/bench/bench_engine $(BUILD)/bench/bench_cnn $(BUILD)/bench/search_sim
	bash bench/run.sh $(BUILD)/bench/bench_engine
	bash bench/cnn.sh $(BUILD)/bench/bench_cnn
	$(BUILD)/bench/search_sim
	$(BUILD)/bench/search_sim --overhead
	bash bench/search.sh $(BIN)
	bash bench/tracker_overhead.sh $(BIN)

# the search simulator: the samplers replayed against recorded learning curves (no training)
$(BUILD)/bench/search_sim: $(BUILD)/bench/search_sim.o $(LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# what one controller (rank 0) sustains from simulated worker ranks: make MPI=1 bench-rank0
$(BUILD)/bench/bench_rank0: $(BUILD)/bench/bench_rank0.o $(LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# the CNN against PyTorch; the convolutional layers' parity with PyTorch; the search
# benchmark (methods at one epoch budget, Optuna, parallel speedup); the tracker's cost;
# the search simulator; recurrent layers against PyTorch; the MPI controller's rates
.PHONY: bench-cnn bench-parity bench-search bench-tracker bench-sim bench-rnn bench-rank0
bench-cnn: $(BUILD)/bench/bench_cnn
	bash bench/cnn.sh $(BUILD)/bench/bench_cnn
bench-parity: $(BUILD)/bench/parity_conv
	bash bench/parity.sh $(BUILD)/bench/parity_conv
bench-rank0: $(BUILD)/bench/bench_rank0
	bash bench/rank0.sh $(BUILD)/bench/bench_rank0
bench-rnn: $(BUILD)/bench/bench_rnn
	bash bench/rnn.sh $(BUILD)/bench/bench_rnn
bench-search: $(BIN)
	bash bench/search.sh $(BIN)
bench-sim: $(BUILD)/bench/search_sim
	$(BUILD)/bench/search_sim
	$(BUILD)/bench/search_sim --overhead
bench-tracker: $(BIN)
	bash bench/tracker_overhead.sh $(BIN)

clean:
	rm -rf build build-* ksearch

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
