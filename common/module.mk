# common/: small reusable modules (logging, buffers, ...). libkllm-common.a
COMMON_SRCS := $(wildcard common/src/*.c)
COMMON_LIB  := $(BUILD)/libkllm-common.a
COMMON_INC  := -Icommon/include

$(BUILD)/common/%.o: CPPFLAGS += $(COMMON_INC)
$(COMMON_LIB): $(COMMON_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

COMMON_TESTS := $(patsubst common/tests/%.c,$(BUILD)/tests/common/%,$(wildcard common/tests/test_*.c))
TEST_BINS += $(COMMON_TESTS)
$(BUILD)/tests/common/%: $(BUILD)/common/tests/%.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)
