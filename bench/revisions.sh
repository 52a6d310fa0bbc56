#!/usr/bin/env bash
# revisions.sh [BASE]: corral at BASE (a git revision, default the first
# parent of HEAD) against the working tree, side by side in one run, so a
# refactor can show it made nothing slower: launch (`run -q -- /bin/true`,
# with bubblewrap and plain as the peers), the monitor on two file- and
# exec-heavy workloads (a 60-file C build with make -j2; untar
# /usr/include and grep it), each workload's commands started round-robin
# by interleave.py so that a drift in the machine's load hits all alike;
# and the detection latency (bench/detect.sh for each binary). Written
# between `<!-- revisions:begin/end -->` in BENCHMARKS.md.
#
# Knobs (environment):
#   BENCH_RUNS=N           launch rounds (default 300)
#   BENCH_BUILD_RUNS=N     build rounds (default 20)
#   BENCH_UNTAR_RUNS=N     untar rounds (default 6)
#   BASE_BIN=PATH, CORRAL_BIN=PATH  use these binaries, skip the builds
#   BENCH_NO_WRITE=1       print the section, do not touch BENCHMARKS.md
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
BASE=${1:-HEAD^}
RUNS=${BENCH_RUNS:-300}
BUILD_RUNS=${BENCH_BUILD_RUNS:-20}
UNTAR_RUNS=${BENCH_UNTAR_RUNS:-6}
MD=$REPO/BENCHMARKS.md
log() { echo "revisions.sh: [$(date +%H:%M:%S)] $*" >&2; }
die() { echo "revisions.sh: error: $*" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
install_missing bwrap:bubblewrap make:make cc:gcc python3:python3
base_rev=$(git -C "$REPO" rev-parse --short "$BASE") || die "no revision $BASE"
head_rev=$(git -C "$REPO" rev-parse --short HEAD)
dirty=""
git -C "$REPO" diff --quiet HEAD -- crates Cargo.toml Cargo.lock || dirty=" (plus uncommitted changes)"
WORK=$(mktemp -d -t corral-bench-revisions.XXXXXX)
cleanup() {
    git -C "$REPO" worktree remove --force "$WORK/base-src" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_STATE_HOME=$WORK/state
if [[ -z ${BASE_BIN:-} ]]; then
    log "building corral $base_rev (release) in a temporary worktree"
    git -C "$REPO" worktree add -q --detach "$WORK/base-src" "$base_rev"
    BASE_BIN=$(CARGO_TARGET_DIR=$REPO/target/revisions bash "$WORK/base-src/scripts/build-release.sh" | tail -n 1)
fi
if [[ -z ${CORRAL_BIN:-} ]]; then
    log "building corral $head_rev (release)"
    CORRAL_BIN=$(bash "$REPO/scripts/build-release.sh" | tail -n 1)
fi
mkdir -p "$WORK/ws"
cd "$WORK/ws"

log "launch: $RUNS rounds, the four commands round-robin (interleave.py)"
INTERLEAVE_JSON=$WORK/launch.json python3 "$BENCH_DIR/interleave.py" "$RUNS" \
    plain="/bin/true" \
    bwrap="bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc /bin/true" \
    "corral $base_rev=$BASE_BIN run -q -- /bin/true" \
    "corral $head_rev=$CORRAL_BIN run -q -- /bin/true" >&2

make_cproj "$WORK/cproj"
echo "make -s -C $WORK/cproj clean && make -s -j2 -C $WORK/cproj >/dev/null" >"$WORK/build.sh"
tar -C /usr -cf "$WORK/include.tar" include
echo "rm -rf $WORK/tree && mkdir $WORK/tree && tar -C $WORK/tree -xf $WORK/include.tar && grep -rl define $WORK/tree | wc -l >/dev/null" >"$WORK/untar.sh"
for name in build untar; do
    rounds=$BUILD_RUNS
    [[ $name == untar ]] && rounds=$UNTAR_RUNS
    log "monitor: $name, $rounds rounds, round-robin (interleave.py)"
    INTERLEAVE_JSON=$WORK/$name.json INTERLEAVE_WARMUP=2 python3 "$BENCH_DIR/interleave.py" "$rounds" \
        plain="sh $WORK/$name.sh" \
        "corral $base_rev=$BASE_BIN run -q --workspace $WORK -- sh $WORK/$name.sh" \
        "corral $head_rev=$CORRAL_BIN run -q --workspace $WORK -- sh $WORK/$name.sh" >&2
done

log "detection: bench/detect.sh with each binary"
CORRAL_BIN=$BASE_BIN BENCH_NO_WRITE=1 bash "$BENCH_DIR/detect.sh" >"$WORK/detect-base.md"
CORRAL_BIN=$CORRAL_BIN BENCH_NO_WRITE=1 bash "$BENCH_DIR/detect.sh" >"$WORK/detect-head.md"

section=$WORK/section.md
python3 - "$WORK" "$base_rev" "$head_rev" >"$WORK/tables.md" <<'PY'
import json, statistics, sys
work, base, head = sys.argv[1:4]
def table(name, title, peers):
    res = {r["command"]: r for r in json.load(open(f"{work}/{name}.json"))["results"]}
    med = lambda r: statistics.median(r["times"]) * 1000
    b, h = res[f"corral {base}"], res[f"corral {head}"]
    print(f"### {title}\n")
    print(f"| command | median ms | mean ms | p90 ms | ratio vs corral {base} (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for n in peers + [f"corral {base}", f"corral {head}"]:
        r = res[n]; ts = sorted(r["times"])
        p90 = ts[(9 * len(ts)) // 10] * 1000
        print(f"| {n} | {med(r):.2f} | {r['mean'] * 1000:.2f} | {p90:.2f} | {med(r) / med(b):.3f} |")
    print(f"\n{head} / {base}: **{med(h) / med(b):.3f}** (median)\n")
table("launch", "Launch (`run -q -- /bin/true`, interleaved)", ["plain", "bwrap"])
table("build", "Monitor on: a 60-file C build, `make -j2`, interleaved", ["plain"])
table("untar", "Monitor on: untar /usr/include into the workspace, then `grep -rl define` over it, interleaved", ["plain"])
PY
{
    echo "## Before and after: corral $base_rev against $head_rev$dirty"
    echo
    echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) as \`$(id -un)\` on $(nproc) CPUs, kernel \`$(uname -r)\`, by \`bench/revisions.sh $BASE\`: both release builds (\`scripts/build-release.sh\`) side by side with the peers on the same machine state: every workload's commands started round-robin (\`bench/interleave.py\`: $RUNS rounds of launches, $BUILD_RUNS builds, $UNTAR_RUNS untars), so that a drift in the machine's load hits all alike."
    echo
    cat "$WORK/tables.md"
    echo "### Detection (\`bench/detect.sh\`), corral $base_rev"
    echo
    sed -n '/^|/p' "$WORK/detect-base.md"
    echo
    echo "### Detection (\`bench/detect.sh\`), corral $head_rev"
    echo
    sed -n '/^|/p' "$WORK/detect-head.md"
} >"$section"
if [[ -n ${BENCH_NO_WRITE:-} ]]; then
    cat "$section"
else
    python3 "$BENCH_DIR/update_section.py" "$MD" revisions "$section"
    log "updated the Before and after section of $MD"
fi
