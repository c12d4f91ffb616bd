# engine/: libkllm-engine.a — GGUF reader, tokenizer, LLaMA forward pass, sampler.
# Knows nothing of HTTP or Kubernetes; only its own headers are visible to it.
ENGINE_SRCS := $(wildcard engine/src/*.c)
ENGINE_LIB  := $(BUILD)/libkllm-engine.a
ENGINE_INC  := -Iengine/include
ENGINE_LDLIBS := -fopenmp -lm

$(BUILD)/engine/%.o: CPPFLAGS += $(ENGINE_INC) -Iengine/src
$(BUILD)/engine/%.o: CFLAGS += -fopenmp
$(ENGINE_LIB): $(ENGINE_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

ENGINE_TESTS := $(patsubst engine/tests/%.c,$(BUILD)/tests/engine/%,$(wildcard engine/tests/test_*.c))
TEST_BINS += $(ENGINE_TESTS)
$(BUILD)/tests/engine/%: $(BUILD)/engine/tests/%.o $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(ENGINE_LDLIBS) $(LDLIBS)
