#!/usr/bin/env bash
# Entry point: runs every benchmark script in bench/ and updates
# BENCHMARKS.md. Each script takes its knobs from the environment (see the
# top of each script and bench/README.md).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for script in launch.sh proxy.sh audit.sh monitor.sh detect.sh; do
    echo "== bench/$script" >&2
    bash "$BENCH_DIR/$script"
done
