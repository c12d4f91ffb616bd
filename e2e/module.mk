# e2e/: the local control plane and the integration tests that run on it.
#
#   make cluster-up     build (once, cached) and start etcd + kube-apiserver +
#                       kube-controller-manager on free 127.0.0.1 ports;
#                       prints the admin kubeconfig path
#   make cluster-down   stop exactly what cluster-up started
#   make e2e            cluster-up, integration tests (kube/, chart, operator),
#                       cluster-down (always)
#
# KLLM_CLUSTER_DIR (default build/cluster) holds the state of one cluster.
.PHONY: cluster-up cluster-down e2e k8s-binaries

k8s-binaries:
	@./e2e/cluster/build-k8s.sh

cluster-up:
	@./e2e/cluster/up.sh

cluster-down:
	@./e2e/cluster/down.sh

# One private cluster for the kube/ integration tests, the chart against the
# API server, and the operator's end-to-end test (agent stand-ins). The
# agents' cluster mode has its own: make agent-cluster-test.
e2e: deps-quiet $(KUBE_IT_BINS) $(OPERATOR_E2E)
	@./e2e/run.sh $(KUBE_IT_BINS) scripts/helm-test.sh $(OPERATOR_E2E)
