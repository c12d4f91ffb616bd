#!/bin/sh
# e2e/tests/cluster-lib.sh: unit tests of e2e/cluster/lib.sh (run by make
# test): the apt source the deb-src entry is derived from, and that
# installing packages writes nothing to stdout (callers capture it: up.sh
# prints the kubeconfig path, and apt's progress once ended up there).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cluster/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected '$2', got '$3'"; fails=$((fails + 1)); fi
}
printf 'ID=debian\nVERSION_CODENAME=bookworm\n' >"$tmp/os-release"
export OS_RELEASE="$tmp/os-release"
etc() { rm -rf "$tmp/apt"; mkdir -p "$tmp/apt/sources.list.d"; export APT_ETC="$tmp/apt"; }

etc
cat >"$tmp/apt/sources.list.d/debian.sources" <<'S'
Types: deb
# a comment
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://old.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs: http://mirror.example/debian http://second.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
S
check "deb822: the enabled main entry of this release, its first URI" \
    "http://mirror.example/debian /usr/share/keyrings/debian-archive-keyring.gpg" "$(apt_archive_source)"

etc
cat >"$tmp/apt/sources.list" <<'S'
# deb http://commented.example/debian bookworm main
deb-src http://src-only.example/debian bookworm main
deb http://proxy.example:3142/debian-security bookworm-security main
deb [arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg] http://proxy.example:3142/debian bookworm contrib main
S
check "one-line: options, keyring, other suites skipped" \
    "http://proxy.example:3142/debian /etc/apt/keyrings/mirror.gpg" "$(apt_archive_source)"

etc
echo "deb http://plain.example/debian bookworm main" >"$tmp/apt/sources.list"
printf 'Types: deb\nURIs: http://plain.example/debian\nSuites: bookworm\nComponents: main\nSigned-By: /k.gpg\n' >"$tmp/apt/sources.list.d/debian.sources"
check "the same archive in both formats: the entry with the keyring" "http://plain.example/debian /k.gpg" "$(apt_archive_source)"

etc
echo "deb http://plain.example/debian bookworm main" >"$tmp/apt/sources.list.d/plain.list"
check "one-line without keyring" "http://plain.example/debian -" "$(apt_archive_source)"

etc
printf 'Types: deb\nURIs: http://x.example/debian\nSuites: bookworm\nComponents: contrib\n' >"$tmp/apt/sources.list.d/x.sources"
apt_archive_source >"$tmp/out" && st=found || st=none
check "no entry serves main: fails, prints nothing" "none:" "$st:$(cat "$tmp/out")"

etc
apt_archive_source >"$tmp/out" && st=found || st=none
check "no sources at all: fails" "none:" "$st:$(cat "$tmp/out")"

# ensure_pkgs against a dpkg that has nothing and an apt-get that talks on
# stdout, as dpkg's unpacking does on a fresh machine.
mkdir -p "$tmp/bin"
printf '#!/bin/sh\nexit 1\n' >"$tmp/bin/dpkg-query"
printf '#!/bin/sh\necho "Selecting previously unselected package etcd-server."\necho "$*" >>"%s/apt.log"\n' "$tmp" >"$tmp/bin/apt-get"
chmod +x "$tmp/bin/dpkg-query" "$tmp/bin/apt-get"
as_root() { "$@"; }
out=$(PATH="$tmp/bin:$PATH" ensure_pkgs etcd-server 2>/dev/null)
check "ensure_pkgs: nothing on stdout" "" "$out"
check "ensure_pkgs: apt-get was run" "yes" "$(grep -q 'install.*etcd-server' "$tmp/apt.log" 2>/dev/null && echo yes)"

[ $fails -eq 0 ] && echo "cluster-lib: all passed" || echo "cluster-lib: $fails failed"
[ $fails -eq 0 ]
