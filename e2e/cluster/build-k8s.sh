#!/bin/sh
# e2e/cluster/build-k8s.sh: build kube-apiserver and kube-controller-manager
# 1.20.2 from Debian's `kubernetes` source package, once, into
# ${XDG_CACHE_HOME:-~/.cache}/kllm/k8s-1.20.2/bin. Reused when present.
#
# How (see issue 4): apt-get source kubernetes (needs a deb-src entry),
# GOPATH mode with GO111MODULE=off, `make generated_files` for the OpenAPI
# code, vendored reflect2 1.0.1 replaced by Debian's 1.0.2 (1.0.1 crashes
# under Go 1.19), then `go build` of the two commands. Runs under `nice`
# so that other work on the machine stays usable. ~10 minutes on 2 cores.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

bin="$K8S_CACHE/bin"
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ]; then
    exit 0
fi
mkdir -p "$K8S_CACHE"
# One build at a time per cache; a second caller waits and then reuses.
exec 9>"$K8S_CACHE/build.lock"
flock 9
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ]; then
    exit 0
fi

srcs=/etc/apt/sources.list.d/kllm-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    # The archive the machine already installs from (a mirror or a proxy
    # stays in use), with its keyring.
    src=$(apt_archive_source) ||
        die "no apt source for Debian's main component in /etc/apt: add a deb-src entry for the kubernetes source package"
    uri=${src% *} keyring=${src#* }
    codename=$(os_codename)
    log "adding a deb-src entry for $uri $codename main ($srcs)"
    tmp=$(mktemp)
    {
        echo "Types: deb-src"
        echo "URIs: $uri"
        echo "Suites: $codename"
        echo "Components: main"
        [ "$keyring" = - ] || echo "Signed-By: $keyring"
    } >"$tmp"
    as_root install -m 0644 "$tmp" "$srcs"
    rm -f "$tmp"
    as_root apt-get update -qq >&2
fi
ensure_pkgs golang-go rsync jq dpkg-dev golang-github-modern-go-reflect2-dev make

work="$K8S_CACHE/work"
gopath="$work/gopath"
tree="$gopath/src/k8s.io/kubernetes"
if [ ! -f "$tree/.kllm-prepared" ]; then
    rm -rf "$work/src" "$tree"
    mkdir -p "$work/src" "$gopath/src/k8s.io"
    log "fetching the kubernetes source package"
    (cd "$work/src" && apt-get source -qq --download-only kubernetes >/dev/null &&
        dpkg-source --no-check -x ./kubernetes_*.dsc kubernetes >/dev/null)
    mv "$work/src/kubernetes" "$tree"
    rm -rf "$work/src"
    [ -f "$tree/cmd/kube-apiserver/apiserver.go" ] || die "unexpected source tree layout"
    r2=/usr/share/gocode/src/github.com/modern-go/reflect2
    [ -d "$r2" ] || die "$r2 missing"
    rm -rf "$tree/vendor/github.com/modern-go/reflect2"
    mkdir -p "$tree/vendor/github.com/modern-go/reflect2"
    cp -rL "$r2/." "$tree/vendor/github.com/modern-go/reflect2/"
    rm -f "$tree/vendor/github.com/modern-go/reflect2/go.mod" "$tree/vendor/github.com/modern-go/reflect2/go.sum"
    touch "$tree/.kllm-prepared"
fi

export GOPATH="$gopath" GO111MODULE=off GOCACHE="$work/gocache" GOFLAGS= CGO_ENABLED=1
export PATH="/usr/lib/go/bin:$PATH"
cd "$tree"
if [ ! -f "$tree/.kllm-generated" ]; then
    log "make generated_files (a few minutes)"
    nice -n 19 make generated_files
    touch "$tree/.kllm-generated"
fi
ver="k8s.io/kubernetes/vendor/k8s.io/component-base/version"
ldflags="-s -w -X $ver.gitVersion=v$K8S_VERSION -X $ver.gitMajor=1 -X $ver.gitMinor=20 -X $ver.gitTreeState=clean"
mkdir -p "$bin.tmp"
for cmd in kube-apiserver kube-controller-manager; do
    log "go build $cmd (a few minutes)"
    nice -n 19 go build -ldflags "$ldflags" -o "$bin.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
rm -rf "$bin"
mv "$bin.tmp" "$bin"
log "built into $bin"
