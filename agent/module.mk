# agent/: kllm-agent — the node agent. Standalone mode: OpenAI-compatible HTTP
# API with continuous batching over libkllm-engine (see docs/internals/agent.md).
AGENT_BIN      := $(BUILD)/bin/kllm-agent
AGENT_FAKE_BIN := $(BUILD)/tests/agent/kllm-agent-fake
AGENT_SRCS     := $(filter-out agent/src/main.c,$(wildcard agent/src/*.c))
AGENT_LIB      := $(BUILD)/libkllm-agent.a
AGENT_LDLIBS   := -lmicrohttpd -lcjson -lcurl -lcrypto
AGENT_MODEL    := engine/tests/data/llama-2-tiny-random.gguf
FAKE_ENGINE_O  := $(BUILD)/agent/tests/fake_engine.o

$(BUILD)/agent/%.o: CPPFLAGS += -Iagent/src $(ENGINE_INC) $(COMMON_INC) $(KUBE_INC)
$(BUILD)/agent/tests/%.o: CPPFLAGS += -Iagent/tests
$(AGENT_LIB): $(AGENT_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

BINS += $(AGENT_BIN)
TEST_BINS += $(BUILD)/tests/agent/integration
$(AGENT_BIN): $(BUILD)/agent/src/main.o $(AGENT_LIB) $(KUBE_LIB) $(ENGINE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LDLIBS) $(KUBE_LDLIBS) $(ENGINE_LDLIBS) $(LDLIBS)

# The same program on the fake engine: HTTP/batching integration tests that
# do not depend on model math.
$(AGENT_FAKE_BIN): $(BUILD)/agent/src/main.o $(FAKE_ENGINE_O) $(AGENT_LIB) $(KUBE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LDLIBS) $(KUBE_LDLIBS) $(LDLIBS)

AGENT_TESTS := $(patsubst agent/tests/%.c,$(BUILD)/tests/agent/%,$(wildcard agent/tests/test_*.c))
TEST_BINS += $(AGENT_TESTS) $(BUILD)/tests/agent/integration-fake
$(BUILD)/tests/agent/test_%: $(BUILD)/agent/tests/test_%.o $(FAKE_ENGINE_O) $(AGENT_LIB) $(KUBE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(AGENT_LDLIBS) $(KUBE_LDLIBS) $(LDLIBS)

# tmpl_tokenize against the real engine and vocabularies (the pattern rule
# above links the fake engine).
$(BUILD)/tests/agent/test_tmpl_tok: $(BUILD)/agent/tests/test_tmpl_tok.o $(AGENT_LIB) $(ENGINE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(ENGINE_LDLIBS) $(LDLIBS)

# Integration runs are small generated scripts so `make test` (which runs
# TEST_BINS from the repo root) passes them the binaries of this $(BUILD).
$(BUILD)/tests/agent/integration: agent/tests/integration.sh $(AGENT_BIN)
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec agent/tests/integration.sh %s %s\n' $(AGENT_BIN) $(AGENT_MODEL) > $@
	chmod +x $@
$(BUILD)/tests/agent/integration-fake: agent/tests/integration.sh $(AGENT_FAKE_BIN)
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nFAKE_ENGINE=1 exec agent/tests/integration.sh %s %s\n' \
	    $(AGENT_FAKE_BIN) agent/tests/data/fake-model.txt > $@
	chmod +x $@

# make fuzz (with the engine's GGUF target): libFuzzer on the request parser
# and the completion text path, the parts that read network bytes.
$(FUZZ_DIR)/fuzz_api: agent/fuzz/fuzz_api.c agent/src/api.c agent/src/abuf.c agent/src/text.c
	@mkdir -p $(dir $@)
	clang -std=c11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -Iagent/src -Iengine/include -o $@ $^ -lcjson
.PHONY: fuzz-agent
fuzz-agent: deps-quiet $(FUZZ_DIR)/fuzz_api
	@mkdir -p $(FUZZ_DIR)/corpus-api
	cp agent/fuzz/corpus/* $(FUZZ_DIR)/corpus-api/
	cd $(FUZZ_DIR) && ./fuzz_api -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	    corpus-api
fuzz: fuzz-agent

# make agent-cluster-test: cluster mode on a private local control plane
# (e2e/cluster, state in $(BUILD)/cluster-agent): two agents as the chart's
# ServiceAccount, replicas bound by hand, cross-node routing. The script
# brings the cluster down on every exit path (trap), failures included.
.PHONY: agent-cluster-test
agent-cluster-test: deps-quiet $(AGENT_BIN)
	BUILD=$(BUILD) KUBECONFIG= KLLM_CLUSTER_DIR=$(abspath $(BUILD))/cluster-agent \
	    agent/tests/cluster.sh $(AGENT_BIN) $(AGENT_MODEL)
