# cli/: the `kllm` engine command line (run, inspect, tokenize, bench, make-model).
KLLM_BIN := $(BUILD)/bin/kllm
BINS += $(KLLM_BIN)
$(BUILD)/cli/%.o: CPPFLAGS += $(ENGINE_INC) $(COMMON_INC)
$(KLLM_BIN): $(patsubst %.c,$(BUILD)/%.o,$(wildcard cli/kllm*.c)) $(ENGINE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ENGINE_LDLIBS) $(LDLIBS)

TEST_BINS += $(BUILD)/tests/cli/test_cli
$(BUILD)/tests/cli/test_cli: cli/tests/test_cli.sh $(KLLM_BIN)
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nexec cli/tests/test_cli.sh %s\n' $(KLLM_BIN) > $@
	chmod +x $@
