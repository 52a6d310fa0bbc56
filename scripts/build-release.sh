#!/usr/bin/env bash
# Builds the release binary the way it is shipped and benchmarked: static
# (glibc, crt-static; no dynamic loader work at each launch, which is a
# measurable share of a sandbox launch) and stripped. Prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked -q -p corral --target "$host"
echo "$PWD/target/$host/release/corral"
