#!/bin/sh
# Run each test program given on the command line; report every failure and
# exit non-zero if any failed (so one broken module does not hide another).
failed=""
for t in "$@"; do
    echo "== $t"
    if ! "$t"; then
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all $# test programs passed"
