# kllm container images: one multi-stage file, two targets.
#
#   docker build --target operator -t ghcr.io/kllm/kllm-operator:$(cat VERSION) .
#   docker build --target agent    -t ghcr.io/kllm/kllm-agent:$(cat VERSION) .
#
# The names and tags match helm/kllm/values.yaml (image.registry,
# operator.image.repository, agent.image.repository, tag = appVersion).
# Built with the project Makefile and Debian's compiler; no -march: the
# engine picks its SIMD kernels at run time (portable x86-64 baseline).
# Final images hold the binary and Debian's runtime libraries only, run as
# uid/gid 65532 (the chart's podSecurityContext) on a read-only root fs.

FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gcc make pkg-config libc6-dev \
      libcjson-dev libcurl4-openssl-dev libyaml-dev libssl-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# build-all, not all: `all` would run scripts/deps.sh (test and lint tools).
RUN make -j"$(nproc)" BUILD=/build build-all \
 && strip --strip-unneeded /build/bin/kllm-operator /build/bin/kllm-agent

FROM debian:bookworm-slim AS runtime-base
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libcjson1 libcurl4 libyaml-0-2 libssl3 libmicrohttpd12 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 kllm \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --shell /usr/sbin/nologin kllm
USER 65532:65532

FROM runtime-base AS operator
COPY --from=build /build/bin/kllm-operator /usr/local/bin/kllm-operator
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/kllm-operator"]

FROM runtime-base AS agent
USER 0:0
# OpenMP runtime for the engine; the model cache mount point.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o 65532 -g 65532 /var/cache/kllm
USER 65532:65532
COPY --from=build /build/bin/kllm-agent /usr/local/bin/kllm-agent
COPY --from=build /build/bin/kllm /usr/local/bin/kllm
VOLUME ["/var/cache/kllm"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kllm-agent"]
