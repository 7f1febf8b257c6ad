# qdeck — build, run, test.
#
#   make run     install what is missing, build, start `qdeck demo`
#   make test    install what is missing, build (plain and sanitized), check
#                the layers, start a private RabbitMQ and Redis, run every
#                suite, stop them
#   make bench   the benchmarks under tests/bench/ (not part of `make test`)
#
# `make SANITIZE=address,undefined` builds into build-san/ instead of build/.
# `make V=1` shows every compiler command.

PKGS      := ncursesw librabbitmq hiredis libcurl libcjson inih libmicrohttpd openssl
CC        ?= cc
CSTD      := -std=c11 -D_GNU_SOURCE
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-7s %s\n'
endif
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT       ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifeq ($(SANITIZE),)
BUILD     ?= build
SANFLAGS  :=
else
BUILD     ?= build-san
SANFLAGS  := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT       := -O1 -g
endif

CFLAGS   += $(CSTD) $(WARN) $(OPT) $(SANFLAGS) -Isrc $(PKG_CFLAGS) -MMD -MP
LDFLAGS  += $(SANFLAGS)
LDLIBS   += $(PKG_LIBS) -lpthread -lm

# Everything under src/ except main.c goes into a library the tests link too.
LIB_SRC  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
# Handler plugins build against src/qdeck-plugin.h only; fixture plugins
# (wrong ABI, no entry symbol, failing init) live under tests/plugins/.
PLUGIN_SRC  := $(sort $(wildcard plugins/*.c))
PLUGIN_SO   := $(PLUGIN_SRC:plugins/%.c=$(BUILD)/plugins/%.so)
FIXTURE_SRC := $(sort $(wildcard tests/plugins/*.c))
FIXTURE_SO  := $(FIXTURE_SRC:tests/plugins/%.c=$(BUILD)/tests/plugins/%.so)
PLUGIN_LIBS  = $(shell pkg-config --libs libcurl libcjson 2>/dev/null) -lpthread

.PHONY: all run demo test bench deps clean screenshots unit tools plugins fuzz layers
all: $(BUILD)/qdeck plugins

plugins: $(PLUGIN_SO) $(FIXTURE_SO)

$(BUILD)/plugins/%.so: plugins/%.c src/qdeck-plugin.h
	@mkdir -p $(dir $@)
	$(say) PLUGIN $@
	$(Q)$(CC) $(CFLAGS) -fPIC -shared -o $@ $< $(LDFLAGS) $(PLUGIN_LIBS)

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c src/qdeck-plugin.h
	@mkdir -p $(dir $@)
	$(say) PLUGIN $@
	$(Q)$(CC) $(CFLAGS) -fPIC -shared -o $@ $< $(LDFLAGS) $(PLUGIN_LIBS)

$(BUILD)/qdeck: $(BUILD)/src/main.o $(BUILD)/libqdeck.a
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libqdeck.a: $(LIB_OBJ)
	@rm -f $@
	$(say) AR $@
	$(Q)ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libqdeck.a
	@mkdir -p $(dir $@)
	$(say) TEST $@
	$(Q)$(CC) $(CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/libqdeck.a $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libqdeck.a
	@mkdir -p $(dir $@)
	$(say) TOOL $@
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libqdeck.a $(LDFLAGS) $(LDLIBS)

unit: $(UNIT_BIN) plugins
tools: $(TOOL_BIN)

deps:
	@tests/lib/deps.sh test

run:
	@tests/lib/deps.sh run
	@$(MAKE) --no-print-directory all
	./$(BUILD)/qdeck demo

demo: all
	./$(BUILD)/qdeck demo

test: deps
	@$(MAKE) --no-print-directory all unit tools
	@$(MAKE) --no-print-directory layers
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all unit tools
	tests/run.sh

# Layers only look down, no circle of includes or calls, no file over 700
# lines (tests/layers.py); the self-test plants a wrong include and a circle
# in a copy of src/ and must see both found.
layers: all
	@python3 tests/layers.py --objects $(BUILD)
	@python3 tests/layers.py --self-test

bench: deps
	@tests/lib/deps.sh bench
	@$(MAKE) --no-print-directory all tools
	tests/bench/run.sh

screenshots:
	@tests/lib/deps.sh screenshots
	@$(MAKE) --no-print-directory all tools
	tests/lib/screenshots.sh

# libFuzzer targets for the parsers of outside input (tests/fuzz/), built
# with clang into build-fuzz/; each runs FUZZ_SECONDS from its seed corpus.
FUZZ_SECONDS ?= 20
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	@tests/lib/deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang SANITIZE=address,undefined,fuzzer-no-link build-fuzz/libqdeck.a
	@set -e; for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); mkdir -p build-fuzz/fuzz build-fuzz/corpus/$$n; \
	  clang $(CSTD) -g -O1 -fsanitize=address,undefined,fuzzer -fno-sanitize-recover=all -Isrc $(PKG_CFLAGS) \
	    -o build-fuzz/fuzz/$$n $$f build-fuzz/libqdeck.a $(PKG_LIBS) -lpthread -lm; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  build-fuzz/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build-fuzz/ \
	    build-fuzz/corpus/$$n tests/fuzz/corpus/$${n#fuzz_} > build-fuzz/fuzz/$$n.log 2>&1 \
	    || { tail -40 build-fuzz/fuzz/$$n.log; echo "fuzz: $$n failed; the input is in build-fuzz/"; exit 1; }; \
	  grep -E 'DONE|^Done|^stat::new_units_added' build-fuzz/fuzz/$$n.log; \
	done

clean:
	rm -rf build build-san build-fuzz

-include $(shell find build build-san -name '*.d' 2>/dev/null)
