# kllm — top-level build. Plain GNU make, no generated build system.
#
# Each component describes itself in <dir>/module.mk and appends to:
#   BINS       programs built by `make`
#   TEST_BINS  cmocka test programs run by `make test` (from the repo root)
#   BENCH_CMDS commands run by `make bench`
# Include paths are given per component so that dependencies only point down
# the order of DESIGN.md §1 (engine, common <- kube <- agent, operator).

CC      ?= gcc
BUILD   ?= build
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) -fno-strict-aliasing -pthread
CPPFLAGS += -D_GNU_SOURCE -DKLLM_VERSION=\"$(VERSION)\" -MMD -MP
LDFLAGS  += -pthread
LDLIBS   += -lm

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

BINS       :=
TEST_BINS  :=
BENCH_CMDS :=

.SECONDARY:
.PHONY: all deps test check lint format bench demo demo-down demo-standalone clean fuzz helm-test install
all: deps-quiet build-all

include common/module.mk
include engine/module.mk
include cli/module.mk
-include kube/module.mk
-include agent/module.mk
-include operator/module.mk
-include e2e/module.mk

build-all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

deps:
	@./scripts/deps.sh

deps-quiet:
	@./scripts/deps.sh

test: deps-quiet $(BINS) $(TEST_BINS)
	@./scripts/run-tests.sh $(TEST_BINS)

# Same tests, built with AddressSanitizer + UndefinedBehaviorSanitizer.
check: deps-quiet
	$(MAKE) BUILD=build/san SAN=1 CFLAGS="-O1 -g" test

SRC_FILES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null)
lint: deps-quiet
	@./scripts/lint.sh $(SRC_FILES)

format:
	clang-format -i $(SRC_FILES)

# Render the Helm chart (default and all-features values) and check every
# document; with KUBECONFIG set, also server-side dry-run and RBAC checks.
helm-test: deps-quiet
	@./scripts/helm-test.sh

bench: deps-quiet $(BINS)
	@./scripts/bench.sh

# The whole system on this machine, left running (scripts/demo.sh);
# demo-down stops it. demo-standalone: the engine CLI and one agent, no
# Kubernetes.
demo: deps-quiet $(BINS)
	@BUILD=$(BUILD) ./scripts/demo.sh up

demo-down:
	@BUILD=$(BUILD) ./scripts/demo.sh down

demo-standalone: deps-quiet $(BINS)
	@./scripts/demo-standalone.sh

# make install [PREFIX=/usr/local]: every program, kubectl-kllm included
# (kubectl finds plugins named kubectl-* on PATH).
PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
