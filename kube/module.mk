# kube/: libkllm-kube.a — Kubernetes client: config, REST, watch, informer,
# work queue, leader election, events. Uses common/ (headers only today).
#
# Exported for agent/ and operator/:
#   KUBE_LIB     the static library to link
#   KUBE_INC     its include flags
#   KUBE_LDLIBS  what to link after it
KUBE_SRCS   := $(wildcard kube/src/*.c)
KUBE_LIB    := $(BUILD)/libkllm-kube.a
KUBE_INC    := -Ikube/include
KUBE_LDLIBS := -lcurl -lyaml -lcjson -lpthread

$(BUILD)/kube/%.o: CPPFLAGS += $(KUBE_INC) -Ikube/src $(COMMON_INC)
$(KUBE_LIB): $(KUBE_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# Unit tests: no server needed. Run from the repo root (fixtures in kube/tests/data).
KUBE_TESTS := $(patsubst kube/tests/%.c,$(BUILD)/tests/kube/%,$(wildcard kube/tests/test_*.c))
TEST_BINS += $(KUBE_TESTS)
$(BUILD)/tests/kube/%: $(BUILD)/kube/tests/%.o $(KUBE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(KUBE_LDLIBS) $(LDLIBS)

# Integration tests and helpers: need a running control plane (make e2e).
KUBE_IT_BINS := $(patsubst kube/tests/integration/%.c,$(BUILD)/kube-it/%,$(wildcard kube/tests/integration/*.c))
$(BUILD)/kube-it/%: $(BUILD)/kube/tests/integration/%.o $(KUBE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(KUBE_LDLIBS) $(LDLIBS)
.PHONY: kube-it
kube-it: $(KUBE_IT_BINS)
