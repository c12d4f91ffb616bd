#!/bin/sh
# Install the Debian packages kllm needs to build, test and lint.
# Idempotent: when everything is present it only queries dpkg and exits 0.
set -eu
PKGS="gcc make pkg-config libc6-dev clang libclang-rt-14-dev clang-format cppcheck
libcjson-dev libcurl4-openssl-dev libyaml-dev libssl-dev libmicrohttpd-dev libcmocka-dev libpcre2-dev
curl ca-certificates openssl jq"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
