#!/usr/bin/env bash
# Where does a launch's time go? Profiles `corral run -q -- /bin/true`:
#   1. phases: kernel tracepoints (sched:*, a few syscalls:*) recorded with
#      `perf record -a` over many launches, split into phases by phases.py
#      (median/p10/p90 in microseconds; tracepoints cost ~1 us each here,
#      unlike strace, which multiplies every syscall's cost);
#   2. cpu: `perf record -a -g` (cpu-clock sampling) over many launches, the
#      top symbols of every process involved, kernel and user space;
#   3. syscalls: `strace -c -f` counts and `strace -f -tt -T` of one launch
#      (counts are exact; strace's times are inflated, read them as relative);
#   4. variants: one hyperfine run of the default profile against policies
#      that switch parts off (bench/nolimits.toml, bench/pids-only.toml,
#      bench/masks-only.toml), to price the defaults.
# Needs root (perf -a, tracepoints). Not part of run.sh: it is a tool for
# whoever optimizes the launch path. Results go to $PROFILE_OUT.
#
# Knobs: CORRAL_BIN (skip the build), PROFILE_RUNS (default 300),
#        PROFILE_OUT (default: a fresh temp dir).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RUNS=${PROFILE_RUNS:-300}
OUT=${PROFILE_OUT:-$(mktemp -d -t corral-profile.XXXXXX)}
mkdir -p "$OUT"
die() { printf 'profile.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (perf record -a with tracepoints)"
for tool in perf strace hyperfine python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found; apt-get install -y linux-perf strace hyperfine python3"
done
if [[ -n ${CORRAL_BIN:-} ]]; then
    CORRAL=$CORRAL_BIN
else
    (cd "$REPO" && cargo build --release -p corral --quiet)
    CORRAL=$REPO/target/release/corral
fi
WS=$(mktemp -d -t corral-profile-ws.XXXXXX)
trap 'rm -rf "$WS"' EXIT
cd "$WS"
"$CORRAL" run -- /bin/true 2>"$OUT/header.txt"

loop() { for ((i = 0; i < RUNS; i++)); do "$@"; done; }

echo "== 1. phases ($RUNS launches, perf tracepoints)"
events=(sched:sched_process_exec sched:sched_process_fork sched:sched_process_exit)
for sc in poll getcwd landlock_create_ruleset socketpair clone sethostname socket seccomp exit_group; do
    events+=("syscalls:sys_enter_$sc")
done
for sc in clone ioctl pivot_root seccomp wait4; do
    events+=("syscalls:sys_exit_$sc")
done
perf record -q -a -o "$OUT/phases.data" "${events[@]/#/-e}" -- \
    bash -c "$(declare -f loop); RUNS=$RUNS; loop '$CORRAL' run -q -- /bin/true" 2>/dev/null
perf script -i "$OUT/phases.data" -F comm,pid,tid,cpu,time,event,trace >"$OUT/phases.txt" 2>/dev/null
python3 "$BENCH_DIR/phases.py" "$OUT/phases.txt" "$CORRAL" | tee "$OUT/phases.md"

echo "== 2. cpu ($RUNS launches, perf record -a -g, cpu-clock)"
perf record -q -a -g -F 20000 -o "$OUT/cpu.data" -- \
    bash -c "$(declare -f loop); RUNS=$RUNS; loop '$CORRAL' run -q -- /bin/true" 2>/dev/null
perf report -i "$OUT/cpu.data" --no-children --sort comm,dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -25 | tee "$OUT/cpu-by-dso.txt"
perf report -i "$OUT/cpu.data" --no-children --sort sym --stdio -g none --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 | tee "$OUT/cpu-by-sym.txt"

echo "== 3. syscalls (strace)"
strace -c -f -o "$OUT/strace-c.txt" "$CORRAL" run -q -- /bin/true
head -40 "$OUT/strace-c.txt"
strace -f -tt -T -o "$OUT/strace.txt" "$CORRAL" run -q -- /bin/true
echo "full trace of one launch: $OUT/strace.txt ($(wc -l <"$OUT/strace.txt") syscalls)"

echo "== 4. variants (one hyperfine run)"
hyperfine -N --style basic --warmup 30 --runs "$RUNS" --export-json "$OUT/variants.json" \
    -n default "$CORRAL run -q -- /bin/true" \
    -n nolimits "$CORRAL run -q --policy $BENCH_DIR/nolimits.toml -- /bin/true" \
    -n pids-only "$CORRAL run -q --policy $BENCH_DIR/pids-only.toml -- /bin/true" \
    -n masks-only "$CORRAL run -q --policy $BENCH_DIR/masks-only.toml -- /bin/true" >/dev/null
python3 - "$OUT/variants.json" <<'EOF' | tee "$OUT/variants.md"
import json, statistics, sys
rs = json.load(open(sys.argv[1]))["results"]
base = statistics.median(rs[0]["times"])
print(f"{'variant':12} {'median ms':>10} {'mean ms':>8} {'delta vs default ms':>20}")
for r in rs:
    m = statistics.median(r["times"])
    print(f"{r['command']:12} {m*1e3:10.2f} {statistics.fmean(r['times'])*1e3:8.2f} {(m-base)*1e3:20.2f}")
EOF
echo "results in $OUT"
