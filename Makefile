# routstr -- one GNU Makefile for the daemon, its tests, fuzzers and benchmarks.
#
#   make          build/routstr (release, -O2), with the dashboard's files in build/web/
#   make run      build, then serve on 0.0.0.0:8000 (SQLite default)
#   make test     ASan+UBSan build, C unit tests, then the Node end-to-end suites
#   make san      the ASan+UBSan build only (build/san/routstr and unit tests)
#   make fuzz     libFuzzer targets under build/fuzz/ (clang)
#   make bench    the benchmark of bench/ (not run in CI)
#
# Library flags come from pkg-config. They are expanded lazily (recursive '=' variables used
# only inside recipes), so the first 'make' on a fresh machine can install the packages through
# scripts/deps.sh before pkg-config is asked about them.

PKGS      := libevent libevent_openssl libcurl jansson libcbor libsecp256k1 openssl sqlite3 libpq
BUILD     ?= build
CC        ?= cc
OPT       ?= -O2
SAN       ?=
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
             -Wno-unused-parameter -Werror=implicit-function-declaration -Werror=return-type
BASEFLAGS  = -std=c11 -g $(OPT) $(WARN) -fno-omit-frame-pointer $(SAN) -MMD -MP \
             -Isrc -D_GNU_SOURCE -DROUTSTR_VERSION='"$(VERSION)"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lwslay -lm
TEST_CFLAGS = $(shell pkg-config --cflags cmocka)
TEST_LIBS   = $(shell pkg-config --libs cmocka)

SRCS      := $(sort $(wildcard src/*/*.c))
LIB_SRCS  := $(filter-out src/app/main.c,$(SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ  := $(BUILD)/src/app/main.o
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
# The dashboard: our files (web/admin/) and the browser libraries npm installs in web/ from its
# lockfile, copied beside the binary ($(BUILD)/web/admin/, vendor/ for the libraries), where
# routstr looks for them by default (WEB_DIR).
WEB_SRCS   := $(sort $(wildcard web/admin/*))
WEB_VENDOR := web/node_modules/qrcode-generator/dist/qrcode.js

.PHONY: all run test san unit e2e fuzz bench demo clean deps format
.DEFAULT_GOAL := all

all: $(BUILD)/routstr

deps $(BUILD)/.deps: scripts/deps.sh
	@mkdir -p $(BUILD)
	@scripts/deps.sh build
	@touch $(BUILD)/.deps

$(BUILD)/%.o: %.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/librouter.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/routstr: $(MAIN_OBJ) $(BUILD)/librouter.a | $(BUILD)/web/.built
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# npm writes node_modules/.package-lock.json on every install: newer than the lockfile once
# 'npm ci' has run, so it runs again only when the lockfile changes.
web/node_modules/.package-lock.json: web/package-lock.json web/package.json | $(BUILD)/.deps
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/web/.built: $(WEB_SRCS) web/node_modules/.package-lock.json
	@rm -rf $(BUILD)/web
	@mkdir -p $(BUILD)/web/admin/vendor
	cp $(WEB_SRCS) $(BUILD)/web/admin/
	cp $(WEB_VENDOR) $(BUILD)/web/admin/vendor/
	@touch $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/librouter.a | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -Itests/unit -o $@ $< \
		$(BUILD)/librouter.a $(PKG_LIBS) $(TEST_LIBS)

unit: $(UNIT_BINS)

run: $(BUILD)/routstr
	./$(BUILD)/routstr

# The sanitizer build lives in its own tree so it never mixes objects with the release one.
san:
	@$(MAKE) --no-print-directory BUILD=build/san OPT=-O1 \
		SAN='-fsanitize=address,undefined -fno-sanitize-recover=undefined' \
		build/san/routstr unit

test: all san
	@scripts/deps.sh test
	@scripts/test.sh

e2e: all san
	@scripts/deps.sh test
	@scripts/test.sh e2e

# libFuzzer: every object rebuilt by clang with coverage instrumentation.
fuzz:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT=-O1 \
		SAN='-fsanitize=fuzzer-no-link,address,undefined' build/fuzz/librouter.a \
		$(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/fuzz/%)

build/fuzz/fuzz/%: tests/fuzz/%.c build/fuzz/librouter.a
	@mkdir -p $(dir $@)
	clang $(BASEFLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		build/fuzz/librouter.a $(PKG_LIBS)

bench: all
	@scripts/deps.sh bench
	@bench/run.sh

demo: all
	@scripts/deps.sh test
	@scripts/demo.sh

format:
	clang-format -i $(SRCS) $(wildcard src/*/*.h) $(UNIT_SRCS)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
