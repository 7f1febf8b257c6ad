# qdeck — build, run, test.
#
#   make run     install what is missing, build, start `qdeck demo`
#   make test    install what is missing, build (plain and sanitized), check
#                the layers, start a private RabbitMQ and Redis, run every
#                suite, stop them
#   make bench   the benchmarks under tests/bench/ (not part of `make test`)
#   make install, make uninstall   PREFIX (/usr/local), DESTDIR, BINDIR,
#                LIBDIR, DATADIR, MANDIR: the binary, plugins, themes, man
#                pages (build/man/), completions (build/completion/), contrib/
#   make deb     a Debian package, build/qdeck_VERSION_ARCH.deb (debhelper),
#                holding what `make install PREFIX=/usr` installs
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

# Where `make install` puts things. The plugin and theme directories are
# compiled into two objects (through a stamp that changes only when they
# do), so the installed binary finds them from any working directory; the
# build tree's own plugins/ and themes/, and every override, come first.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
INSTALL_DEFS := -DQDECK_INSTALL_PLUGIN_DIR='"$(LIBDIR)/qdeck/plugins"' -DQDECK_INSTALL_THEME_DIR='"$(DATADIR)/qdeck/themes"'
INSTALL_OBJ  := $(BUILD)/src/worker/plugin.o $(BUILD)/src/ui/theme.o
$(INSTALL_OBJ): CFLAGS += $(INSTALL_DEFS)
$(INSTALL_OBJ): $(BUILD)/install-paths

# The man pages and completions, written by the binary from its own tables.
DOCS := $(BUILD)/man/qdeck.1 $(BUILD)/man/qdeck.conf.5 $(BUILD)/completion/qdeck.bash $(BUILD)/completion/_qdeck

.PHONY: all run demo test bench deps clean screenshots unit tools plugins fuzz layers docs install uninstall deb FORCE
all: $(BUILD)/qdeck plugins docs

docs: $(DOCS)

$(BUILD)/install-paths: FORCE
	@mkdir -p $(dir $@)
	@echo '$(INSTALL_DEFS)' | cmp -s - $@ || echo '$(INSTALL_DEFS)' > $@

$(BUILD)/man/qdeck.1: $(BUILD)/qdeck
	@mkdir -p $(dir $@)
	$(say) GEN $@
	$(Q)$(BUILD)/qdeck _doc man1 > $@.tmp && mv $@.tmp $@
$(BUILD)/man/qdeck.conf.5: $(BUILD)/qdeck
	@mkdir -p $(dir $@)
	$(say) GEN $@
	$(Q)$(BUILD)/qdeck _doc man5 > $@.tmp && mv $@.tmp $@
$(BUILD)/completion/qdeck.bash: $(BUILD)/qdeck
	@mkdir -p $(dir $@)
	$(say) GEN $@
	$(Q)$(BUILD)/qdeck _doc bash > $@.tmp && mv $@.tmp $@
$(BUILD)/completion/_qdeck: $(BUILD)/qdeck
	@mkdir -p $(dir $@)
	$(say) GEN $@
	$(Q)$(BUILD)/qdeck _doc zsh > $@.tmp && mv $@.tmp $@

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

# the two builds use every core: on a fresh clone they are two full
# compiles. tests/run.sh runs them (QDECK_TEST_BUILD) once it has started
# the lanes' brokers in the background, so the brokers' start-up overlaps
# the compiles instead of following them.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TEST_BUILD = $(MAKE) --no-print-directory -j$(JOBS) all unit tools && \
	$(MAKE) --no-print-directory layers && \
	$(MAKE) --no-print-directory -j$(JOBS) SANITIZE=address,undefined all unit tools
test: deps
	QDECK_TEST_BUILD='$(TEST_BUILD)' tests/run.sh

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

# Everything install writes, as DESTDIR-prefixed paths; uninstall removes
# exactly these, then the qdeck directories install made, once empty.
D_BIN   := $(DESTDIR)$(BINDIR)
D_PLUG  := $(DESTDIR)$(LIBDIR)/qdeck/plugins
D_THEME := $(DESTDIR)$(DATADIR)/qdeck/themes
D_EX    := $(DESTDIR)$(DATADIR)/doc/qdeck/examples
D_BASH  := $(DESTDIR)$(DATADIR)/bash-completion/completions
D_ZSH   := $(DESTDIR)$(DATADIR)/zsh/vendor-completions
THEMES  := $(sort $(wildcard themes/*.theme))
# contrib/debian/ is the packaging `make deb` uses, not an example
CONTRIB := $(shell [ -d contrib ] && cd contrib && find . -type f ! -path './debian/*' | sed "s|^\./||" | sort)

install: all
	install -d $(D_BIN) $(D_PLUG) $(D_THEME) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(D_BASH) $(D_ZSH)
	install -m 755 $(BUILD)/qdeck $(D_BIN)/qdeck
	install -m 755 $(PLUGIN_SO) $(D_PLUG)/
	install -m 644 $(THEMES) $(D_THEME)/
	install -m 644 $(BUILD)/man/qdeck.1 $(DESTDIR)$(MANDIR)/man1/qdeck.1
	install -m 644 $(BUILD)/man/qdeck.conf.5 $(DESTDIR)$(MANDIR)/man5/qdeck.conf.5
	install -m 644 $(BUILD)/completion/qdeck.bash $(D_BASH)/qdeck
	install -m 644 $(BUILD)/completion/_qdeck $(D_ZSH)/_qdeck
	@set -e; for f in $(CONTRIB); do \
	  m=644; [ -x "contrib/$$f" ] && m=755; \
	  echo "install -D -m $$m contrib/$$f $(D_EX)/$$f"; install -D -m $$m "contrib/$$f" "$(D_EX)/$$f"; \
	done

uninstall:
	rm -f $(D_BIN)/qdeck $(addprefix $(D_PLUG)/,$(notdir $(PLUGIN_SO))) $(addprefix $(D_THEME)/,$(notdir $(THEMES)))
	rm -f $(DESTDIR)$(MANDIR)/man1/qdeck.1 $(DESTDIR)$(MANDIR)/man5/qdeck.conf.5 $(D_BASH)/qdeck $(D_ZSH)/_qdeck
	rm -f $(addprefix $(D_EX)/,$(CONTRIB))
	@for d in $(D_PLUG) $(DESTDIR)$(LIBDIR)/qdeck $(D_THEME) $(DESTDIR)$(DATADIR)/qdeck; do \
	  [ ! -d "$$d" ] || rmdir "$$d" 2>/dev/null || echo "uninstall: kept $$d (not empty)"; done
	@if [ -d "$(D_EX)" ]; then find "$(D_EX)" -depth -type d -empty -delete; fi
	@d="$(DESTDIR)$(DATADIR)/doc/qdeck"; [ ! -d "$$d" ] || rmdir "$$d" 2>/dev/null || echo "uninstall: kept $$d (not empty)"

# A Debian package with debhelper. The packaging lives in contrib/debian/
# (there is no top-level debian/): it is copied, with the tree, into a
# scratch build/deb/qdeck-VERSION/, where dpkg-buildpackage builds with this
# Makefile and installs with `make install PREFIX=/usr`, so the package
# holds what `make install` installs. Only the .deb is kept, in build/.
VERSION   = $(shell sed -n 's/^\#define QDECK_VERSION "\(.*\)"/\1/p' src/cli/app.h)
DEB_DIR   = build/deb
DEB_BUILD_OPTIONS ?= parallel=$(shell nproc) noddebs
deb:
	@tests/lib/deps.sh deb
	@cl=$$(dpkg-parsechangelog -l contrib/debian/changelog -S Version); [ "$$cl" = "$(VERSION)" ] || \
	  { echo "make deb: contrib/debian/changelog is at $$cl but qdeck is $(VERSION): add an entry" >&2; exit 1; }
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/qdeck-$(VERSION)
	@tar -cf - --exclude=./build --exclude=./build-san --exclude=./build-fuzz --exclude=./.git \
	  --exclude=./debian . | tar -xf - -C $(DEB_DIR)/qdeck-$(VERSION)
	@cp -r contrib/debian $(DEB_DIR)/qdeck-$(VERSION)/debian
	$(say) DEB $(DEB_DIR)/qdeck-$(VERSION)
	$(Q)cd $(DEB_DIR)/qdeck-$(VERSION) && DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" \
	  dpkg-buildpackage -b -us -uc -jauto > ../build.log 2>&1 || \
	  { tail -40 ../build.log; echo "make deb: dpkg-buildpackage failed, log in $(DEB_DIR)/build.log" >&2; exit 1; }
	@cp $(DEB_DIR)/qdeck_$(VERSION)_*.deb build/
	@echo "built $$(ls build/qdeck_$(VERSION)_*.deb)"

clean:
	rm -rf build build-san build-fuzz

-include $(shell find build build-san -name '*.d' 2>/dev/null)
