# hearth: build, test, demo and benchmark entry points.
#
#   make            build every program into build/bin
#   make deps       install the Debian packages the project needs
#   make test       install, build, start Kafka and Redis, run every test
#   make demo       run the whole pipeline on the shipped Milwaukee call log
#   make bench      measure throughput, latency and memory (bench/README.md)
#   make asan       build and run the unit tests with ASan and UBSan
#   make format     apply .clang-format to the C sources

BUILD ?= build
CC ?= gcc
PKGS := rdkafka hiredis libprotobuf-c jansson check libcrypto
OPT ?= -O2
SAN ?=

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
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
TEST_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRC) tests/unit/runner.c)
TEST_BIN := $(BUILD)/tests/unit-tests

.PHONY: all deps test test-unit test-integration demo bench asan format \
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

test: deps
	$(MAKE) all
	$(MAKE) test-unit
	bash tests/integration/run.sh

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

services-up:
	bash deploy/local/services.sh up

services-down:
	bash deploy/local/services.sh down

format:
	clang-format -i $(ALL_SRC) $(TEST_SRC) tests/unit/runner.c \
		$(wildcard engine/common/*.h engine/*.h models/*.h connectors/*.h \
		           bench/*.h tests/unit/*.h)

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
