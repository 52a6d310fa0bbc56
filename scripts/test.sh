#!/usr/bin/env bash
# The test suite, as the README's second command runs it:
#   1. fetch crates and build every test binary (needs the network once),
#   2. create the unprivileged test user (when root) so the suite runs each
#      boundary test both as root and as an ordinary user,
#   3. run the tests inside a fresh network namespace that has only
#      loopback, so no test can reach anything off this machine,
#   4. list every test that skipped (and why) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --workspace --all-targets --locked

export CORRAL_SKIP_LOG="$PWD/target/test-skips.log"
rm -f "$CORRAL_SKIP_LOG"

status=0
if [ "$(id -u)" = 0 ]; then
    export CORRAL_TEST_USER="${CORRAL_TEST_USER:-corral-test}"
    if ! id "$CORRAL_TEST_USER" >/dev/null 2>&1; then
        useradd --create-home --shell /bin/sh "$CORRAL_TEST_USER"
    fi
    # Tests run offline from here on: only loopback exists.
    unshare --net -- bash -c 'ip link set lo up && exec cargo test --workspace --locked --offline -- "$@"' bash "$@" || status=$?
else
    echo "scripts/test.sh: not root: running without a private network namespace (the tests use loopback only) and without the unprivileged-user pass" >&2
    cargo test --workspace --locked --offline -- "$@" || status=$?
fi

if [ -s "$CORRAL_SKIP_LOG" ]; then
    echo "skipped (this machine lacks what they need):"
    sort -u "$CORRAL_SKIP_LOG" | sed 's/^/  /'
else
    echo "no test skipped"
fi
exit "$status"
