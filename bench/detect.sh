#!/usr/bin/env bash
# Detection benchmark: how fast corral ends a run once a rogue behaviour
# starts. Each scenario runs BENCH_DETECT_RUNS times in a real sandbox; the
# time is read off the run's own audit trail:
#   - event-driven detectors (a miner's exec, Stratum through the proxy): from
#     the evidence event's timestamp to `run.exit` (the sandbox's init reaped:
#     every process in it is dead). Goal: 100 ms or less.
#   - CPU-shaped mining (a busy loop nobody expects): from the burner's exec
#     to `run.exit`. Goal: 5 s or less.
# Also reported: the detector-to-kill latency corral records itself
# (`response.kill`'s `latency_ms`). Writes the `## Detection` section of
# BENCHMARKS.md (between <!-- detect:begin --> and <!-- detect:end -->).
#
# Safe: the fake pool is a server on 127.0.0.1 started here, reached by the
# sandbox only through corral's proxy (a pinned name); nothing leaves the
# machine.
#
# Knobs (environment):
#   CORRAL_BIN=PATH        use this corral binary, skip the build
#   BENCH_DETECT_RUNS=N    runs per event-driven scenario (default 20)
#   BENCH_DETECT_CPU_RUNS=N  runs of the CPU-shaped scenario (default 3)
#   BENCH_NO_WRITE=1       print the section, do not touch BENCHMARKS.md
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RUNS=${BENCH_DETECT_RUNS:-20}
CPU_RUNS=${BENCH_DETECT_CPU_RUNS:-3}
MD=$REPO/BENCHMARKS.md
log() { echo "detect.sh: [$(date +%H:%M:%S)] $*" >&2; }

# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
install_missing python3:python3
if [[ -z ${CORRAL_BIN:-} ]]; then
    log "building corral (release)"
    CORRAL_BIN=$(bash "$REPO/scripts/build-release.sh" | tail -n 1)
fi
WORK=$(mktemp -d -t corral-bench-detect.XXXXXX)
export XDG_STATE_HOME=$WORK/state
mkdir -p "$WORK/ws" "$WORK/trails"

# A fake pool on the host's loopback: reads and never answers.
python3 - >"$WORK/pool.port" <<'PY' &
import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True); sys.stdout.close()
def hold(c):
    try:
        while c.recv(4096): pass
    except OSError: pass
while True:
    c, _ = s.accept(); threading.Thread(target=hold, args=(c,), daemon=True).start()
PY
POOL_PID=$!
trap 'kill $POOL_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do [[ -s $WORK/pool.port ]] && break; sleep 0.1; done
PORT=$(cat "$WORK/pool.port")

printf '#!/bin/sh\nsleep 20\n' >"$WORK/ws/xmrig"
chmod 755 "$WORK/ws/xmrig"
cat >"$WORK/ws/pool.py" <<PY
import socket, time
s = socket.create_connection(("127.0.0.1", 1080))
s.sendall(b"\x05\x01\x00"); s.recv(2)
name = b"pool.verify.test"
s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + ($PORT).to_bytes(2, "big"))
s.recv(10)
s.sendall(b'{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}\n')
time.sleep(20)
PY
cat >"$WORK/policy.toml" <<TOML
[network]
allow = ["pool.verify.test:$PORT"]
resolve = ["pool.verify.test:$PORT:127.0.0.1"]
[network.rules."pool.verify.test:$PORT"]
protocols = ["any"]
TOML

C="$CORRAL_BIN run -q --workspace $WORK/ws"
cd "$WORK/ws"
run() { # name i flags... -- command...
    local name=$1 i=$2
    shift 2
    $C --audit "$WORK/trails/$name-$i.jsonl" "$@" >/dev/null 2>&1 || true
}
log "miner exec: $RUNS runs"
for i in $(seq "$RUNS"); do run exec "$i" -- ./xmrig -o stratum+tcp://pool.verify.test:3333; done
log "stratum through the proxy: $RUNS runs"
for i in $(seq "$RUNS"); do run stratum "$i" --policy "$WORK/policy.toml" -- python3 pool.py; done
log "CPU-shaped mining: $CPU_RUNS runs"
for i in $(seq "$CPU_RUNS"); do run cpu "$i" --timeout 60s -- sh -c 'while :; do :; done'; done

section=$WORK/section.md
python3 - "$WORK/trails" "$RUNS" "$CPU_RUNS" >"$WORK/results.md" <<'PY'
import json, sys, glob, statistics, datetime
trails, runs, cpu_runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def ts(e):
    t = e["ts"]
    base, frac = t[:-1].split(".")
    d = datetime.datetime.fromisoformat(base).replace(tzinfo=datetime.timezone.utc)
    return d.timestamp() + int(frac) / 10 ** len(frac)
rows, goals = [], []
for name, title, goal_ms, start in [
    ("exec", "a miner's exec (`miner.exec`)", 100, "evidence"),
    ("stratum", "Stratum login through the proxy (`miner.stratum`)", 100, "evidence"),
    ("cpu", "CPU-shaped mining (`miner.cpu`, 1 s samples)", 5000, "exec"),
]:
    total, kill, ids, stopped = [], [], set(), 0
    files = sorted(glob.glob(f"{trails}/{name}-*.jsonl"))
    for f in files:
        ev = [json.loads(l) for l in open(f)]
        v = ev[-1]
        if v.get("kind") != "verdict" or not v.get("ended_by"):
            continue
        stopped += 1
        ids.add(v["ended_by"])
        finding = next(e for e in ev if e["kind"] == "finding" and e["id"] == v["ended_by"])
        exit_ = next(e for e in ev if e["kind"] == "run.exit")
        rk = next(e for e in ev if e["kind"] == "response.kill")
        kill.append(rk["latency_ms"])
        if start == "exec":
            first = next(e for e in ev if e["kind"] == "proc.exec" and e.get("argv", [""])[0] == "sh")
        else:
            # The evidence's first event, found by its kind and pid.
            evd = finding["evidence"][0]
            first = next(e for e in ev if e["kind"] == evd["kind"] and e.get("pid") == evd.get("pid") and e["seq"] < finding["seq"])
        total.append((ts(exit_) - ts(first)) * 1000)
    if not total:
        rows.append(f"| {title} | 0 of {len(files)} runs stopped | | | |")
        goals.append((title, goal_ms, None))
        continue
    p50, worst = statistics.median(total), max(total)
    goals.append((title, goal_ms, worst))
    rows.append(f"| {title} | {stopped} of {len(files)} ({', '.join(sorted(ids))}) | {p50:.1f} | {worst:.1f} | {statistics.median(kill):.3f} |")
print("| goal | worst measured | |\n| --- | --- | --- |")
for title, goal, worst in goals:
    met = "**met**" if worst is not None and worst <= goal else "**not met**"
    print(f"| {title}: dead within {goal} ms | {'-' if worst is None else f'{worst:.1f} ms'} | {met} |")
print()
print("| scenario | runs stopped (finding) | first event to sandbox dead, median ms | worst ms | finding to kill signal, median ms |")
print("| --- | --- | ---: | ---: | ---: |")
print("\n".join(rows))
PY
{
    echo "## Detection"
    echo
    echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs, kernel \`$(uname -r)\`, corral \`$(git -C "$REPO" rev-parse --short HEAD)\`, by \`bench/detect.sh\` ($RUNS runs of each event-driven scenario, $CPU_RUNS of the CPU-shaped one, default policy and detectors). Times come from each run's audit trail: from the timestamp of the event that completed the finding (for CPU-shaped mining: the burner's exec) to \`run.exit\`, recorded once the sandbox's init is reaped, i.e. when every process in the sandbox is dead."
    echo
    cat "$WORK/results.md"
} >"$section"
if [[ -n ${BENCH_NO_WRITE:-} ]]; then
    cat "$section"
else
    python3 "$BENCH_DIR/update_section.py" "$MD" detect "$section"
    log "updated the Detection section of $MD"
fi
