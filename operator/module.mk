# operator/: kllm-operator. Today: libkllm-operator-core.a, the pure decision
# logic (rollout state machine, canary analysis, autoscaler, scheduler,
# quantities) that the controllers call; no Kubernetes, no I/O, so it is
# tested alone. The controllers and the binary (which use kube/ and common/)
# add their own sources and rules below; keep the core list explicit so it
# never picks them up.
OPERATOR_CORE_SRCS := operator/src/quantity.c operator/src/rollout.c operator/src/analysis.c \
                      operator/src/autoscale.c operator/src/schedule.c operator/src/spec.c
OPERATOR_CORE_LIB  := $(BUILD)/libkllm-operator-core.a
OPERATOR_INC       := -Ioperator/include

$(BUILD)/operator/%.o: CPPFLAGS += $(OPERATOR_INC)
$(OPERATOR_CORE_LIB): $(OPERATOR_CORE_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

OPERATOR_TESTS := $(patsubst operator/tests/%.c,$(BUILD)/tests/operator/%,$(wildcard operator/tests/test_*.c))
TEST_BINS += $(OPERATOR_TESTS)
$(BUILD)/tests/operator/%: $(BUILD)/operator/tests/%.o $(OPERATOR_CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)
