# engine/: libkllm-engine.a — GGUF reader, tokenizer, LLaMA forward pass, sampler.
# Knows nothing of HTTP or Kubernetes; only its own headers are visible to it.
ENGINE_SRCS := $(wildcard engine/src/*.c)
ENGINE_LIB  := $(BUILD)/libkllm-engine.a
ENGINE_INC  := -Iengine/include
ENGINE_LDLIBS := -fopenmp -lpcre2-8 -lm

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

# make fuzz: libFuzzer on the GGUF reader + model builder (clang, ASan, UBSan).
# FUZZ_SECONDS bounds the run; findings land in build/fuzz/ as crash-* files.
FUZZ_SECONDS ?= 60
FUZZ_DIR := build/fuzz
$(FUZZ_DIR)/fuzz_gguf: engine/fuzz/fuzz_gguf.c $(ENGINE_SRCS)
	@mkdir -p $(dir $@)
	clang -std=c11 -g -O1 -D_GNU_SOURCE -fopenmp -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -Iengine/include -Iengine/src -o $@ $^ -lpcre2-8 -lm
fuzz: deps-quiet $(FUZZ_DIR)/fuzz_gguf $(KLLM_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus
	$(KLLM_BIN) make-model --out $(FUZZ_DIR)/corpus/small-q8_0.gguf --type q8_0 --dim 32 --layers 1 --heads 2 --ffn 32
	$(KLLM_BIN) make-model --out $(FUZZ_DIR)/corpus/small-q4_0.gguf --type q4_0 --dim 32 --layers 1 --heads 4 --kv-heads 2 --ffn 64
	$(KLLM_BIN) make-model --out $(FUZZ_DIR)/corpus/small-f16.gguf --type f16 --dim 32 --layers 2 --heads 2 --ffn 32
	$(KLLM_BIN) make-model --out $(FUZZ_DIR)/corpus/small-bpe.gguf --type q8_0 --dim 32 --layers 1 --heads 2 --ffn 32 \
	    --vocab-from engine/fuzz/seeds/bpe-vocab.gguf
	for a in qwen2 qwen3 phi3 gemma2 gemma3; do \
	    $(KLLM_BIN) make-model --out $(FUZZ_DIR)/corpus/small-$$a.gguf --arch $$a --type f16 --dim 32 \
	        --layers 1 --heads 2 --ffn 32 --head-dim 16 --swa 4 --rope-factors || exit 1; done
	$(KLLM_BIN) make-model --out $(FUZZ_DIR)/corpus/small-q4_k_m.gguf --type q4_k_m --dim 256 --layers 1 \
	    --heads 1 --ffn 256 --tied
	cd $(FUZZ_DIR) && ./fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=393216 -timeout=10 \
	    -rss_limit_mb=4096 corpus
