# operator/: kllm-operator. Today: libkllm-operator-core.a, the pure decision
# logic (rollout state machine, canary analysis, autoscaler, scheduler,
# quantities) that the controllers call; no Kubernetes, no I/O, so it is
# tested alone. The controllers and the binary (which use kube/ and common/)
# add their own sources and rules below; keep the core list explicit so it
# never picks them up.
OPERATOR_CORE_SRCS := operator/src/quantity.c operator/src/rollout.c operator/src/analysis.c \
                      operator/src/autoscale.c operator/src/schedule.c operator/src/spec.c \
                      operator/src/backoff.c
OPERATOR_CORE_LIB  := $(BUILD)/libkllm-operator-core.a
OPERATOR_INC       := -Ioperator/include

$(BUILD)/operator/%.o: CPPFLAGS += $(OPERATOR_INC)
$(OPERATOR_CORE_LIB): $(OPERATOR_CORE_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# libkllm-operator.a: the pure JSON <-> decision glue (op_plan) and flag
# parsing (op_opts); no I/O either, tested with cmocka. The controllers
# (OPERATOR_CTL_SRCS, op_ctl; src/ctl.h is their shared inside) and main.c
# use kube/ and are exercised by operator/tests/e2e_operator.sh on a real
# control plane.
OPERATOR_LIB_SRCS := operator/src/plan.c operator/src/opts.c operator/src/scrape.c
OPERATOR_CTL_SRCS := operator/src/controller.c operator/src/reconcile_model.c \
                     operator/src/reconcile_metrics.c operator/src/reconcile_node.c \
                     operator/src/golden.c
OPERATOR_LIB      := $(BUILD)/libkllm-operator.a
OPERATOR_BIN      := $(BUILD)/bin/kllm-operator
PLUGIN_BIN        := $(BUILD)/bin/kubectl-kllm
BINS += $(OPERATOR_BIN) $(PLUGIN_BIN)

$(BUILD)/operator/src/%.o: CPPFLAGS += $(KUBE_INC) $(COMMON_INC)
$(BUILD)/operator/plugin/%.o: CPPFLAGS += $(KUBE_INC) $(COMMON_INC)
$(BUILD)/operator/tests/%.o: CPPFLAGS += $(KUBE_INC) $(COMMON_INC)
$(OPERATOR_LIB): $(OPERATOR_LIB_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(OPERATOR_BIN): $(BUILD)/operator/src/main.o $(OPERATOR_CTL_SRCS:%.c=$(BUILD)/%.o) \
                 $(BUILD)/operator/src/scraper.o $(OPERATOR_LIB) \
                 $(OPERATOR_CORE_LIB) $(KUBE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd $(KUBE_LDLIBS) $(LDLIBS)

$(PLUGIN_BIN): $(BUILD)/operator/plugin/kubectl-kllm.o $(OPERATOR_LIB) $(OPERATOR_CORE_LIB) \
               $(KUBE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(KUBE_LDLIBS) $(LDLIBS)

OPERATOR_TESTS := $(patsubst operator/tests/%.c,$(BUILD)/tests/operator/%,$(wildcard operator/tests/test_*.c))
TEST_BINS += $(OPERATOR_TESTS)
$(BUILD)/tests/operator/%: $(BUILD)/operator/tests/%.o $(OPERATOR_LIB) $(OPERATOR_CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lcjson $(LDLIBS)

# e2e of the operator (operator/tests/e2e_operator.sh). `make e2e-operator`
# always brings up its own control plane (KLLM_CLUSTER_DIR, default
# $(BUILD)/cluster-operator-e2e) and takes it down. $(OPERATOR_E2E) is the
# same test as a program for e2e/run.sh, which runs it against the cluster
# it has started (KUBECONFIG set).
OPERATOR_E2E := $(BUILD)/operator-e2e/e2e-operator
.PHONY: e2e-operator
e2e-operator: deps-quiet $(OPERATOR_BIN) $(PLUGIN_BIN)
	@env -u KUBECONFIG BUILD=$(BUILD) ./operator/tests/e2e_operator.sh
$(OPERATOR_E2E): operator/tests/e2e_operator.sh $(OPERATOR_BIN) $(PLUGIN_BIN)
	@mkdir -p $(dir $@)
	printf '#!/bin/sh\nBUILD=%s exec operator/tests/e2e_operator.sh\n' $(BUILD) > $@
	chmod +x $@
