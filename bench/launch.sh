#!/usr/bin/env bash
# Launch benchmark: how long one `corral run -q -- /bin/true` takes, side by
# side with plain exec and bubblewrap in ONE hyperfine run, and how many
# launches per second corral and bubblewrap sustain with 2 and 8 in parallel.
# Writes the `## Launch` section of BENCHMARKS.md (between the
# <!-- launch:begin --> / <!-- launch:end --> markers).
#
# Runs as root on a fresh machine (installs hyperfine and bubblewrap with
# apt-get, builds corral) or as an unprivileged user once the tools are
# installed (pass CORRAL_BIN when that user cannot run cargo in the repo).
#
# Knobs (environment):
#   CORRAL_BIN=PATH      use this corral binary, skip `cargo build`
#   BENCH_WARMUP=N       hyperfine warmup runs per command   (default 50)
#   BENCH_RUNS=N         hyperfine measured runs per command (default 500)
#   BENCH_LAUNCHES=N     launches per throughput measurement (default 400)
#   BENCH_REPEAT=N       throughput measurements per cell, median kept (default 3)
#   BENCH_RESULTS=DIR    keep raw results here (default: a fresh temp dir)
#   BENCH_INTERLEAVE=N   rounds of the interleaved latency run (default 300)
#   BENCH_NO_WRITE=1     print the section, do not touch BENCHMARKS.md
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
WARMUP=${BENCH_WARMUP:-50}
RUNS=${BENCH_RUNS:-500}
LAUNCHES=${BENCH_LAUNCHES:-400}
REPEAT=${BENCH_REPEAT:-3}
RESULTS=${BENCH_RESULTS:-$(mktemp -d -t corral-bench.XXXXXX)}
INTERLEAVE=${BENCH_INTERLEAVE:-300}
MD=$REPO/BENCHMARKS.md
BWRAP_ARGS=(--unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc)

log() { printf 'launch.sh: %s\n' "$*" >&2; }
die() { printf 'launch.sh: error: %s\n' "$*" >&2; exit 1; }

# --- 1. tools --------------------------------------------------------------
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
install_missing hyperfine:hyperfine bwrap:bubblewrap python3:python3 xargs:findutils
BWRAP=$(command -v bwrap)
HYPERFINE=$(command -v hyperfine)
"$HYPERFINE" --help | grep -q -- '--shell <' || die "hyperfine $("$HYPERFINE" --version) is too old: -N (no shell) needs hyperfine >= 1.13"

# --- 2. corral -------------------------------------------------------------
if [[ -n ${CORRAL_BIN:-} ]]; then
    CORRAL=$CORRAL_BIN
    log "using CORRAL_BIN=$CORRAL (no build)"
else
    command -v cargo >/dev/null 2>&1 || die "cargo not found in PATH; install Rust, or pass CORRAL_BIN=/path/to/corral to skip the build"
    log "building corral (scripts/build-release.sh: static, stripped, as shipped)"
    CORRAL=$("$REPO/scripts/build-release.sh") || die "scripts/build-release.sh failed (see above)"
fi
[[ -x $CORRAL ]] || die "$CORRAL is not an executable file"
CORRAL=$(cd "$(dirname "$CORRAL")" && pwd)/$(basename "$CORRAL")

# An empty workspace: corral's default workspace is the current directory.
WS=$(mktemp -d -t corral-bench-ws.XXXXXX)
trap 'rm -rf "$WS"' EXIT
cd "$WS"

# Fail early, with the tool's own message, if a sandbox cannot start here.
/bin/true
"$BWRAP" "${BWRAP_ARGS[@]}" /bin/true || die "bubblewrap cannot start a sandbox here (unprivileged user namespaces disabled?)"
"$CORRAL" run -q -- /bin/true || die "corral cannot start a sandbox here; run \`$CORRAL doctor\`"

CMD_PLAIN="/bin/true"
CMD_BWRAP="$BWRAP ${BWRAP_ARGS[*]} /bin/true"
CMD_CORRAL="$CORRAL run -q -- /bin/true"
CMD_NOLIMITS="$CORRAL run -q --policy $BENCH_DIR/nolimits.toml -- /bin/true"
HEADER=$("$CORRAL" run -- /bin/true 2>&1 >/dev/null | head -n 1)

# --- 3. latency: one hyperfine run, all commands side by side --------------
log "latency: hyperfine -N, $WARMUP warmup + $RUNS runs per command (results in $RESULTS)"
"$HYPERFINE" -N --style basic --warmup "$WARMUP" --runs "$RUNS" \
    --export-json "$RESULTS/latency.json" \
    -n plain "$CMD_PLAIN" \
    -n bwrap "$CMD_BWRAP" \
    -n corral "$CMD_CORRAL" \
    -n corral-nolimits "$CMD_NOLIMITS" >&2

# The same commands round-robin (A B C D A B C D ...), so that drift in the
# machine's load hits every command alike; hyperfine runs them one after
# the other.
log "latency, interleaved: $INTERLEAVE rounds"
python3 "$BENCH_DIR/interleave.py" "$INTERLEAVE" plain="$CMD_PLAIN" bwrap="$CMD_BWRAP" \
    corral="$CMD_CORRAL" corral-nolimits="$CMD_NOLIMITS" >"$RESULTS/interleave.txt"
cat "$RESULTS/interleave.txt" >&2

# --- 4. throughput: N launches with P in parallel --------------------------
# xargs (no shell) starts each launch; launches/s = N / wall time. The same
# driver runs plain /bin/true too, so its own overhead is visible.
throughput() { # name parallel -- command...
    local name=$1 par=$2
    shift 3
    local i start end
    for ((i = 0; i <= REPEAT; i++)); do # run 0 is a warmup, not recorded
        start=$(date +%s%N)
        seq "$LAUNCHES" | xargs -P "$par" -I{} "$@" ||
            die "throughput $name P=$par: a launch failed (xargs exit $?)"
        end=$(date +%s%N)
        ((i == 0)) || printf '%s\t%s\t%s\t%s\n' "$name" "$par" "$LAUNCHES" "$((end - start))"
    done
}
log "throughput: $LAUNCHES launches with 2 and 8 in parallel, median of $REPEAT"
: >"$RESULTS/throughput.tsv"
for par in 2 8; do
    throughput plain "$par" -- /bin/true >>"$RESULTS/throughput.tsv"
    throughput bwrap "$par" -- "$BWRAP" "${BWRAP_ARGS[@]}" /bin/true >>"$RESULTS/throughput.tsv"
    throughput corral "$par" -- "$CORRAL" run -q -- /bin/true >>"$RESULTS/throughput.tsv"
done

# --- 5. report -------------------------------------------------------------
export CMD_PLAIN CMD_BWRAP CMD_CORRAL CMD_NOLIMITS HEADER WARMUP RUNS LAUNCHES REPEAT
export NPROC=$(nproc) KERNEL=$(uname -r) DATE=$(date -u +%Y-%m-%dT%H:%MZ)
export CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
export AS_USER=$(id -un) HYPERFINE_VERSION=$("$HYPERFINE" --version) BWRAP_VERSION=$("$BWRAP" --version)
export GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
export GIT_DIRTY=$(git -C "$REPO" status --porcelain 2>/dev/null | grep -qv '^??' && echo " (plus uncommitted changes)" || true)
python3 "$BENCH_DIR/launch_report.py" "$RESULTS/latency.json" "$RESULTS/throughput.tsv" >"$RESULTS/section.md"
{
    printf '\n### Latency, interleaved (`bench/interleave.py`, %s rounds, ms)\n\n' "$INTERLEAVE"
    printf 'The same four commands started round-robin, so a change in the machine'"'"'s load hits all of them alike (the hyperfine run above times them one after the other).\n\n'
    printf '```\n'
    cat "$RESULTS/interleave.txt"
    printf '```\n'
} >>"$RESULTS/section.md"
cat "$RESULTS/section.md"

if [[ -n ${BENCH_NO_WRITE:-} ]]; then
    log "BENCH_NO_WRITE set: $MD left alone"
else
    python3 "$BENCH_DIR/update_section.py" "$MD" launch "$RESULTS/section.md"
    log "updated the Launch section of $MD"
fi
log "raw results: $RESULTS"
