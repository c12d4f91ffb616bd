#!/bin/sh
# make lint: clang-format must leave every file unchanged; cppcheck finds nothing.
set -u
rc=0
bad=$(for f in "$@"; do clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
if [ -n "$bad" ]; then
    echo "lint: not clang-formatted (run 'make format'):"
    echo "$bad"
    rc=1
fi
cfiles=$(for f in "$@"; do case "$f" in *.c) echo "$f";; esac; done)
if ! cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
    --inline-suppr --suppress=missingIncludeSystem -D__GNUC__ -D_GNU_SOURCE \
    -I engine/include -I common/include $cfiles; then
    echo "lint: cppcheck found problems"
    rc=1
fi
[ $rc -eq 0 ] && echo "lint: ok"
exit $rc
