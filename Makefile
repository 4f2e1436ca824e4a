# hearth: build, test, demo and benchmark entry points.
#
#   make            build every program into build/bin
#   make deps       install the Debian packages the project needs
#   make test       install, build, start Kafka and Redis, run every test
#   make test-faults  kill the engine, Redis and Kafka during a run and
#                   check that no alert is lost (tests/faults/run.sh)
#   make demo       run the whole pipeline on the shipped Milwaukee call log
#   make bench      measure throughput, latency, memory, scale-out and
#                   detection quality (bench/README.md)
#   make asan       build and run the unit tests with ASan and UBSan
#   make valgrind   run the unit tests under valgrind's leak check
#   make fuzz       run the libFuzzer targets (tests/fuzz/README.md)
#   make format     apply .clang-format to the C sources
#   make rdkafka212 build against librdkafka 2.12.1 into build-rdkafka212
#   make test-rdkafka212  the same, then run its unit tests

BUILD ?= build
CC ?= gcc
PKGS := rdkafka hiredis libprotobuf-c jansson check libcrypto
OPT ?= -O2
SAN ?=

# The libraries' headers count as system headers (-isystem), so -Werror
# applies to hearth's code only. librdkafka 2.12.1's rdkafka.h, for one,
# fails -Wignored-qualifiers when it lies outside /usr/include.
PKG_CFLAGS = $(patsubst -I%,-isystem %,\
                 $(shell pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS += -std=c11 -D_GNU_SOURCE -g $(OPT) $(SAN) -Wall -Wextra -Werror \
          -Wno-format-truncation \
          -I$(BUILD)/gen -I. $(PKG_CFLAGS)
LDFLAGS += $(SAN)
LDLIBS += $(PKG_LIBS) -lpthread -lm

PROTOS := $(wildcard proto/hearth/v1/*.proto)
GEN_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H := $(GEN_C:.c=.h)

# Files named hearth-*.c hold a program's main(); the rest form the library.
ALL_SRC := $(wildcard engine/common/*.c engine/*.c models/*.c connectors/*.c \
                      bench/*.c)
MAIN_SRC := $(foreach f,$(ALL_SRC),$(if $(filter hearth-%,$(notdir $(f))),$(f)))
LIB_SRC := $(filter-out $(MAIN_SRC),$(ALL_SRC))
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) \
           $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
BINS := $(patsubst %.c,$(BUILD)/bin/%,$(notdir $(MAIN_SRC)))

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRC) tests/unit/runner.c \
                                              tests/unit/redis_server.c \
                                              tests/unit/model_harness.c)
TEST_BIN := $(BUILD)/tests/unit-tests

.PHONY: all deps test test-unit test-integration demo bench asan format docs \
        valgrind test-faults rdkafka212 test-rdkafka212 librdkafka212 \
        services-up services-down clean fuzz
.SECONDARY: $(GEN_C) $(GEN_H)

all: $(BINS) $(TEST_BIN)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libhearth.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/connectors/%.o $(BUILD)/libhearth.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bin/%: $(BUILD)/obj/engine/%.o $(BUILD)/libhearth.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bin/%: $(BUILD)/obj/bench/%.o $(BUILD)/libhearth.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The runner calls every suite: one hearth_test_<module>_suite() per file.
$(BUILD)/gen/test_suites.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	for f in $(notdir $(basename $(TEST_SRC))); do \
		echo "HEARTH_SUITE($${f#test_})"; done > $@

$(BUILD)/obj/tests/unit/runner.o: $(BUILD)/gen/test_suites.h

$(TEST_BIN): $(TEST_OBJ) $(BUILD)/libhearth.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

deps:
	@bash deploy/install-deps.sh

test-unit: $(TEST_BIN)
	$(TEST_BIN)

test-integration: all
	bash tests/integration/run.sh

test-faults: all
	bash tests/faults/run.sh

test: deps
	$(MAKE) all
	$(MAKE) test-unit
	bash tests/integration/run.sh
	bash tests/faults/run.sh

demo: deps
	$(MAKE) all
	bash deploy/demo.sh

bench: deps
	$(MAKE) all
	bash bench/run.sh

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		test-unit

# The unit tests under valgrind, in one process so every leak is seen;
# fails on a memory error or a definite leak.
valgrind: $(TEST_BIN)
	CK_FORK=no valgrind --leak-check=full --errors-for-leak-kinds=definite \
		--error-exitcode=3 $(TEST_BIN)

# hearth against librdkafka 2.12.1, which deploy/librdkafka/build.sh builds
# into the cache, because SCRAM logins to Kafka 4 need librdkafka 2.6.1 or
# newer (deploy/README.md). The rpath lets the programs find the library
# without LD_LIBRARY_PATH. RDKAFKA212 is expanded after librdkafka212 has
# run, when the folder exists for realpath. PKG_CONFIG_PATH goes into the
# environment because GNU make 4.3 does not pass command-line variables to
# $(shell pkg-config ...).
RDKAFKA212_BUILD := build-rdkafka212
RDKAFKA212 = $(realpath $(or $(HEARTH_CACHE_DIR),.cache))/librdkafka-2.12.1

librdkafka212:
	bash deploy/librdkafka/build.sh

rdkafka212: librdkafka212
	PKG_CONFIG_PATH=$(RDKAFKA212)/lib/pkgconfig $(MAKE) \
		BUILD=$(RDKAFKA212_BUILD) LDFLAGS=-Wl,-rpath,$(RDKAFKA212)/lib all

test-rdkafka212: rdkafka212
	$(RDKAFKA212_BUILD)/tests/unit-tests

services-up:
	bash deploy/local/services.sh up

services-down:
	bash deploy/local/services.sh down

format:
	@command -v clang-format >/dev/null || \
		HEARTH_EXTRA_PACKAGES=clang-format bash deploy/install-deps.sh
	clang-format -i $(ALL_SRC) $(TEST_SRC) tests/unit/runner.c \
		$(wildcard engine/common/*.h engine/*.h models/*.h connectors/*.h \
		           bench/*.h tests/unit/*.h)

clean:
	rm -rf build build-asan $(RDKAFKA212_BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# engine/CONFIG.md is generated from the option table in engine/config.c.
docs: $(BUILD)/bin/hearth-engine
	{ echo "# hearth-engine options"; echo; \
	  echo "Generated by \`hearth-engine --help-config\` from the option table in"; \
	  echo "\`engine/config.c\`; regenerate with \`make docs\`. A configuration file is a"; \
	  echo "JSON object with these names, dotted or nested; \`--set NAME=VALUE\`"; \
	  echo "overrides one option."; echo; \
	  $(BUILD)/bin/hearth-engine --help-config; echo; \
	  echo "## Environment"; echo; \
	  echo "\`HEARTH_CRASH_POINT=NAME[:N]\` makes the engine raise SIGKILL the Nth time"; \
	  echo "(default the first) it passes point NAME, for the fault tests"; \
	  echo "(\`make test-faults\`). The points are \`after_poll\` (messages consumed,"; \
	  echo "nothing written), \`before_redis_commit\` (models ran, transaction not"; \
	  echo "sent), \`after_redis_commit\` (state, offsets and outbox stored, nothing"; \
	  echo "produced) and \`after_produce\` (a batch's alerts handed to the producer,"; \
	  echo "not yet acknowledged or deleted from the outbox). The engine reads the"; \
	  echo "variable once at startup and exits with status 2 on an invalid value."; \
	  echo "Leave it unset outside tests."; } > engine/CONFIG.md

# libFuzzer targets (tests/fuzz/README.md). The library is compiled again
# with clang into $(FUZZ_BUILD), because libFuzzer needs clang's coverage
# instrumentation. `make fuzz` installs clang when it is missing, builds
# every target, runs each one's regression inputs once and then fuzzes it
# for FUZZ_SECONDS. It fails if a regression input or a fuzzing run fails
# (crash, sanitizer report, leak, timeout or out of memory).
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= csv profile mapper config incident
FUZZ_PKGS := rdkafka hiredis libprotobuf-c jansson libcrypto
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 $(FUZZ_SAN) \
              -fsanitize=fuzzer-no-link -Wall -Wextra -I$(BUILD)/gen -I. \
              $(shell pkg-config --cflags $(FUZZ_PKGS) 2>/dev/null)
FUZZ_LIBS = $(shell pkg-config --libs $(FUZZ_PKGS) 2>/dev/null) \
            -lpthread -lm
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,\
                  $(filter-out bench/%,$(LIB_SRC))) \
                $(patsubst $(BUILD)/gen/%.c,$(FUZZ_BUILD)/obj/gen/%.o,$(GEN_C))
FUZZ_BINS := $(patsubst %,$(FUZZ_BUILD)/bin/fuzz_%,$(FUZZ_TARGETS))
# Keep the targets' objects, which make would delete as intermediate.
.SECONDARY: $(patsubst %,$(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o,$(FUZZ_TARGETS))

fuzz:
	bash tests/fuzz/install-clang.sh $(FUZZ_CC)
	$(MAKE) $(FUZZ_BINS)
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

$(FUZZ_BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_TARGET_CFLAGS) -MMD -MP -c $< -o $@

# The targets themselves must build without warnings.
$(FUZZ_BUILD)/obj/tests/fuzz/%.o: FUZZ_TARGET_CFLAGS := -Werror
$(FUZZ_BUILD)/obj/tests/fuzz/fuzz_mapper.o: FUZZ_TARGET_CFLAGS := -Werror \
        -DHEARTH_FUZZ_PROFILE='"$(CURDIR)/connectors/profiles/milwaukee_mpd.json"'

$(FUZZ_BUILD)/libhearth.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/bin/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o \
                          $(FUZZ_BUILD)/libhearth.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) $^ $(FUZZ_LIBS) -o $@

# Writes the incident target's seeds; see tests/fuzz/README.md.
$(FUZZ_BUILD)/bin/make_incident_seeds: tests/fuzz/make_incident_seeds.c \
                                       $(BUILD)/gen/hearth/v1/incident.pb-c.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -g -Wall -Wextra -Werror -I$(BUILD)/gen $^ \
		$(FUZZ_LIBS) -o $@

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
