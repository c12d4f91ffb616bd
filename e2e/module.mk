# e2e/: the local control plane and the integration tests that run on it.
#
#   make cluster-up     build (once, cached) and start etcd + kube-apiserver +
#                       kube-controller-manager on free 127.0.0.1 ports;
#                       prints the admin kubeconfig path
#   make cluster-down   stop exactly what cluster-up started
#   make e2e            cluster-up, integration tests (kube/, chart, operator,
#                       the whole system), cluster-down (always)
#   make e2e-system     only the whole-system suite (e2e/system/run.sh), on a
#                       private control plane of its own
#
# KLLM_CLUSTER_DIR (default build/cluster) holds the state of one cluster.
.PHONY: cluster-up cluster-down e2e e2e-system k8s-binaries

# The cluster scripts' own helpers (no cluster needed): part of make test.
TEST_BINS += e2e/tests/cluster-lib.sh

k8s-binaries:
	@./e2e/cluster/build-k8s.sh

cluster-up:
	@./e2e/cluster/up.sh

cluster-down:
	@./e2e/cluster/down.sh

# One private cluster for the kube/ integration tests, the chart against the
# API server, the operator's end-to-end test (agent stand-ins), and last the
# whole system (real operator and agents, docs/e2e.md). The agents' cluster
# mode has its own: make agent-cluster-test.
e2e: deps-quiet $(BINS) $(KUBE_IT_BINS) $(OPERATOR_E2E)
	@BUILD=$(BUILD) ./e2e/run.sh $(KUBE_IT_BINS) scripts/helm-test.sh $(OPERATOR_E2E) e2e/system/run.sh

e2e-system: deps-quiet $(BINS)
	@env -u KUBECONFIG BUILD=$(BUILD) ./e2e/system/run.sh
