#!/usr/bin/env bash
# Egress proxy benchmark: what corral's proxy costs a sandboxed command,
# side by side with the same client connecting directly, in ONE run:
#   1. bulk download (1 GiB over loopback): curl direct vs curl in
#      `corral run` through CONNECT and through the HTTP forward proxy;
#      the same with netbench (a C client reading 1 MiB at a time), since
#      curl itself is close to the bottleneck;
#   2. latency added per CONNECT: connect + tiny HTTP request/response +
#      close, N times, direct vs through CONNECT (netbench rr);
#   3. the supervisor's memory (VmRSS) with 1,000 tunnels open;
#   4. launch time of `corral run -q -- true` with and without
#      `--allow-net` (which starts the proxy), in one hyperfine run.
# Writes the `## Egress proxy` section of BENCHMARKS.md (between the
# <!-- proxy:begin --> / <!-- proxy:end --> markers).
#
# Every connection goes to 127.0.0.1: the measurements run inside a fresh
# network namespace that has only loopback (the script re-executes itself
# there, as scripts/test.sh runs the tests), so nothing can leave the
# machine. The sandbox gets its own namespace inside that one; corral's
# proxy (in the supervisor, on the outer side) connects to the servers,
# pinned to 127.0.0.1 with --resolve.
#
# Runs as root on a fresh machine (installs hyperfine, curl and gcc with
# apt-get, builds corral) or as an unprivileged user once the tools are
# installed (the network namespace then comes with a user namespace that
# maps only that user; pass CORRAL_BIN when that user cannot run cargo).
#
# Knobs (environment):
#   CORRAL_BIN=PATH               use this corral binary, skip the build
#   BENCH_PROXY_BULK_MB=N         size of the downloaded file, MiB (default 1024)
#   BENCH_PROXY_BULK_REPS=N       downloads per path and client, median kept (default 7)
#   BENCH_PROXY_RR=N              timed round trips per path (default 2000)
#   BENCH_PROXY_RR_ROUNDS=N       ... split in N alternating rounds (default 4)
#   BENCH_PROXY_RR_WARMUP=N       untimed round trips before each round (default 50)
#   BENCH_PROXY_TUNNELS=N         tunnels held open at once (default 1000)
#   BENCH_PROXY_LAUNCH_WARMUP=N   hyperfine warmup runs per command (default 20)
#   BENCH_PROXY_LAUNCH_RUNS=N     hyperfine measured runs per command (default 300)
#   BENCH_RESULTS=DIR             keep raw results here (default: a fresh temp dir)
#   BENCH_NO_WRITE=1              print the section, do not touch BENCHMARKS.md
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
MD=$REPO/BENCHMARKS.md
SELF=$BENCH_DIR/proxy.sh

log() { printf 'proxy.sh: [%s, load %s] %s\n' "$(date +%T)" "$(cut -d' ' -f1 /proc/loadavg)" "$*" >&2; }
phase() { # name: records the 1-minute load average as the phase starts
    printf '%s\t%s\n' "$1" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RESULTS/load.tsv"
}
die() { printf 'proxy.sh: error: %s\n' "$*" >&2; exit 1; }

# ===========================================================================
# Outside: tools, build, then re-execute inside a loopback-only namespace.
# ===========================================================================
if [[ -z ${CORRAL_PROXY_BENCH_NETNS:-} ]]; then
    # shellcheck source=bench/lib.sh
    . "$BENCH_DIR/lib.sh"
    tools=(hyperfine:hyperfine curl:curl python3:python3 cc:gcc)
    if [[ $(id -u) -eq 0 ]]; then
        tools+=(unshare:util-linux ip:iproute2)
    fi
    install_missing "${tools[@]}"
    "$(command -v hyperfine)" --help | grep -q -- '--shell <' ||
        die "hyperfine $(hyperfine --version) is too old: -N (no shell) needs hyperfine >= 1.13"

    if [[ -n ${CORRAL_BIN:-} ]]; then
        log "using CORRAL_BIN=$CORRAL_BIN (no build)"
    else
        command -v cargo >/dev/null 2>&1 || die "cargo not found in PATH; install Rust, or pass CORRAL_BIN=/path/to/corral to skip the build"
        log "building corral (scripts/build-release.sh: static, stripped, as shipped)"
        CORRAL_BIN=$("$REPO/scripts/build-release.sh") || die "scripts/build-release.sh failed (see above)"
    fi
    [[ -x $CORRAL_BIN ]] || die "$CORRAL_BIN is not an executable file"
    CORRAL_BIN=$(cd "$(dirname "$CORRAL_BIN")" && pwd)/$(basename "$CORRAL_BIN")
    export CORRAL_BIN
    export BENCH_RESULTS=${BENCH_RESULTS:-$(mktemp -d -t corral-bench.XXXXXX)}
    # Facts about the outer namespace, recorded before leaving it.
    export GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    export GIT_DIRTY=$(git -C "$REPO" status --porcelain 2>/dev/null | grep -qv '^??' && echo " (plus uncommitted changes)" || true)

    export CORRAL_PROXY_BENCH_NETNS=1
    log "entering a fresh network namespace (loopback only)"
    if [[ $(id -u) -eq 0 ]]; then
        export NETNS_HOW='under `unshare --net` (then `ip link set lo up`), as `scripts/test.sh` runs the tests'
        exec unshare --net -- bash -c 'ip link set lo up && exec bash "$0" "$@"' "$SELF" "$@"
    else
        export NETNS_HOW='with `proxy_bench.py netns` (not root: a user namespace that maps only this user, and a network namespace)'
        exec python3 "$BENCH_DIR/proxy_bench.py" netns bash "$SELF" "$@"
    fi
fi

# ===========================================================================
# Inside the loopback-only namespace.
# ===========================================================================
CORRAL=$CORRAL_BIN
RESULTS=$BENCH_RESULTS
mkdir -p "$RESULTS"
BULK_MB=${BENCH_PROXY_BULK_MB:-1024}
BULK_REPS=${BENCH_PROXY_BULK_REPS:-7}
RR_N=${BENCH_PROXY_RR:-2000}
RR_ROUNDS=${BENCH_PROXY_RR_ROUNDS:-4}
RR_WARMUP=${BENCH_PROXY_RR_WARMUP:-50}
TUNNELS=${BENCH_PROXY_TUNNELS:-1000}
LAUNCH_WARMUP=${BENCH_PROXY_LAUNCH_WARMUP:-20}
LAUNCH_RUNS=${BENCH_PROXY_LAUNCH_RUNS:-300}
PY=$(python3 -c 'import sys; print(sys.executable)')
HYPERFINE=$(command -v hyperfine)
CURL=$(command -v curl)
BULK_PORT=18080 RR_PORT=18081 HOLD_PORT=18082

# The HARD rule: nothing but loopback here.
ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')
[[ $ifaces == "lo " ]] || die "not in a loopback-only network namespace (interfaces: $ifaces)"
log "network namespace has only: $ifaces; raw results in $RESULTS"

# A workspace for the sandboxes (corral's default workspace is the current
# directory): netbench lives here, and the tunnel test's step files.
WS=$(mktemp -d -t corral-bench-ws.XXXXXX)
chmod 755 "$WS"
BULK_FILE=
PIDS=()
HOLD_PID=
cleanup() {
    local p
    for p in "${PIDS[@]}" $HOLD_PID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WS"
    [[ -z $BULK_FILE ]] || rm -f "$BULK_FILE"
}
trap cleanup EXIT
cd "$WS"

cc -O2 -o "$WS/netbench" "$BENCH_DIR/netbench.c" || die "cannot compile bench/netbench.c"
NETBENCH=$WS/netbench

# The file served: in /dev/shm when it has room (no disk in the way).
shm_free_mb=$(df -Pm /dev/shm 2>/dev/null | awk 'NR==2 {print $4}' || echo 0)
if [[ -n $shm_free_mb ]] && ((shm_free_mb > BULK_MB * 2)); then
    BULK_FILE=$(mktemp /dev/shm/corral-bench-bulk.XXXXXX)
else
    BULK_FILE=$(mktemp "$RESULTS/bulk.XXXXXX")
fi
log "writing the ${BULK_MB} MiB file served ($BULK_FILE)"
head -c "$((BULK_MB * 1024 * 1024))" /dev/urandom >"$BULK_FILE"
BULK_BYTES=$(stat -c %s "$BULK_FILE")

# The upstreams, all on 127.0.0.1.
"$PY" "$BENCH_DIR/proxy_bench.py" bulk-server "$BULK_PORT" "$BULK_FILE" &
PIDS+=($!)
"$NETBENCH" rr-server "$RR_PORT" &
PIDS+=($!)
"$PY" "$BENCH_DIR/proxy_bench.py" hold-server "$HOLD_PORT" &
PIDS+=($!)
for port in "$BULK_PORT" "$RR_PORT" "$HOLD_PORT"; do
    for ((i = 0; ; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        ((i < 100)) || die "the server on port $port did not start"
        sleep 0.05
    done
done

NET_BULK=(--allow-net "bulk.test:$BULK_PORT" --resolve "bulk.test:$BULK_PORT:127.0.0.1")
NET_RR=(--allow-net "lat.test:$RR_PORT" --resolve "lat.test:$RR_PORT:127.0.0.1")
HEADER_NONE=$("$CORRAL" run -- true 2>&1 >/dev/null | head -n 1)
HEADER_NET=$("$CORRAL" run "${NET_BULK[@]}" -- true 2>&1 >/dev/null | head -n 1)
"$CORRAL" run -q "${NET_RR[@]}" -- "$NETBENCH" rr 1 "$RR_PORT" 3128 lat.test >/dev/null ||
    die "corral cannot reach a server through its proxy here; run \`$CORRAL doctor\`"

# --- 1. bulk download ------------------------------------------------------
# One line per download: client, path, repetition, bytes, seconds (the
# client's own clock: connect to the last byte), CPU seconds user and
# system of the whole command (client, and for `corral run` also the
# supervisor with its proxy and the sandbox's init).
CURL_W=(-sS -o /dev/null -w '%{size_download} %{time_total}\n')
CMD_CURL_DIRECT=("$CURL" "${CURL_W[@]}" --noproxy '*' "http://127.0.0.1:$BULK_PORT/")
CMD_CURL_CONNECT=("$CORRAL" run -q "${NET_BULK[@]}" -- "$CURL" "${CURL_W[@]}" --proxytunnel -x http://127.0.0.1:3128 "http://bulk.test:$BULK_PORT/")
CMD_CURL_FORWARD=("$CORRAL" run -q "${NET_BULK[@]}" -- "$CURL" "${CURL_W[@]}" -x http://127.0.0.1:3128 "http://bulk.test:$BULK_PORT/")
CMD_NB_DIRECT=("$NETBENCH" get "$BULK_PORT")
CMD_NB_CONNECT=("$CORRAL" run -q "${NET_BULK[@]}" -- "$NETBENCH" get "$BULK_PORT" 3128 bulk.test)

bulk_one() { # client path rep -- command...
    local client=$1 path=$2 rep=$3 out cpu
    shift 4
    out=$( { TIMEFORMAT='%U %S'; time "$@" 2>&1; } 2>"$RESULTS/time.tmp") ||
        die "bulk $client $path: the download failed: $out"
    cpu=$(tail -n 1 "$RESULTS/time.tmp")
    read -r bytes secs <<<"$(tail -n 1 <<<"$out")"
    [[ $bytes == "$BULK_BYTES" ]] || die "bulk $client $path: got $bytes bytes, not $BULK_BYTES: $out"
    ((rep == 0)) || printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$client" "$path" "$rep" "$bytes" "$secs" "${cpu/ /$'\t'}" >>"$RESULTS/bulk.tsv"
}
: >"$RESULTS/load.tsv"
phase bulk
log "1/4 bulk: ${BULK_MB} MiB downloads, 1 warmup + $BULK_REPS per path and client, round-robin"
: >"$RESULTS/bulk.tsv"
for ((rep = 0; rep <= BULK_REPS; rep++)); do
    bulk_one curl direct "$rep" -- "${CMD_CURL_DIRECT[@]}"
    bulk_one curl connect "$rep" -- "${CMD_CURL_CONNECT[@]}"
    bulk_one curl forward "$rep" -- "${CMD_CURL_FORWARD[@]}"
    bulk_one netbench direct "$rep" -- "${CMD_NB_DIRECT[@]}"
    bulk_one netbench connect "$rep" -- "${CMD_NB_CONNECT[@]}"
    log "  repetition $rep/$BULK_REPS done$( ((rep)) || echo ' (warmup)')"
done

# --- 2. latency per CONNECT ------------------------------------------------
per_round=$(((RR_N + RR_ROUNDS - 1) / RR_ROUNDS))
CMD_RR_DIRECT=("$NETBENCH" rr "$((RR_WARMUP + per_round))" "$RR_PORT")
CMD_RR_CONNECT=("$CORRAL" run -q "${NET_RR[@]}" -- "$NETBENCH" rr "$((RR_WARMUP + per_round))" "$RR_PORT" 3128 lat.test)
rr_round() { # path -- command...  (also: CPU seconds user, system, and round trips of the command)
    local path=$1
    shift 2
    { TIMEFORMAT='%U %S'; time "$@" >"$RESULTS/rr.tmp"; } 2>"$RESULTS/time.tmp" ||
        die "latency $path: netbench failed: $(cat "$RESULTS/time.tmp")"
    tail -n +"$((RR_WARMUP + 1))" "$RESULTS/rr.tmp" >>"$RESULTS/rr_$path.txt"
    printf '%s\t%s\t%s\n' "$path" "$(tail -n 1 "$RESULTS/time.tmp" | tr ' ' '\t')" "$((RR_WARMUP + per_round))" >>"$RESULTS/rr_cpu.tsv"
}
phase latency
log "2/4 latency: $RR_ROUNDS rounds of $per_round round trips per path (+$RR_WARMUP untimed each), alternating"
: >"$RESULTS/rr_direct.txt"
: >"$RESULTS/rr_cpu.tsv"
: >"$RESULTS/rr_connect.txt"
for ((r = 0; r < RR_ROUNDS; r++)); do
    if ((r % 2 == 0)); then
        rr_round direct -- "${CMD_RR_DIRECT[@]}"
        rr_round connect -- "${CMD_RR_CONNECT[@]}"
    else
        rr_round connect -- "${CMD_RR_CONNECT[@]}"
        rr_round direct -- "${CMD_RR_DIRECT[@]}"
    fi
done

# --- 3. 1,000 tunnels: the supervisor's memory -----------------------------
cat >"$RESULTS/hold.toml" <<EOF
[network]
resolve = ["hold.test:$HOLD_PORT:127.0.0.1"]

[network.rules."hold.test:$HOLD_PORT"]
protocols = ["any"]
EOF
CMD_HOLD=("$CORRAL" run -q --policy "$RESULTS/hold.toml" -- "$PY" "$BENCH_DIR/proxy_bench.py" hold-client "$TUNNELS" "$HOLD_PORT" hold.test hold)
mkdir -p "$WS/hold"
chmod 777 "$WS/hold"
step_wait() { # file
    local i
    for ((i = 0; i < 6000; i++)); do
        [[ -e $WS/hold/$1 ]] && return 0
        kill -0 "$HOLD_PID" 2>/dev/null || die "the tunnel client exited before writing $1"
        sleep 0.01
    done
    die "the tunnel client did not write $1 within 60 s"
}
sample() { # label: the supervisor's memory, threads and descriptors
    local st
    st=/proc/$HOLD_PID/status
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" \
        "$(awk '/^VmRSS:/ {print $2}' "$st")" "$(awk '/^RssAnon:/ {print $2}' "$st")" \
        "$(awk '/^VmHWM:/ {print $2}' "$st")" "$(awk '/^Threads:/ {print $2}' "$st")" \
        "$(ls "/proc/$HOLD_PID/fd" | wc -l)" >>"$RESULTS/hold.tsv"
}
phase tunnels
log "3/4 tunnels: $TUNNELS CONNECT tunnels held open (any-protocol rule), supervisor RSS before/with/after"
printf 'state\tvmrss_kib\trssanon_kib\tvmhwm_kib\tthreads\tfds\n' >"$RESULTS/hold.tsv"
"${CMD_HOLD[@]}" &
HOLD_PID=$!
step_wait started
[[ $(cat "/proc/$HOLD_PID/comm") == corral ]] || die "pid $HOLD_PID is not the corral supervisor"
sleep 0.3
sample before
touch "$WS/hold/go"
step_wait ready
sleep 0.5 # let every tunnel's task settle (its telemetry lookup ends)
sample with
read -r opened open_secs <"$WS/hold/ready"
[[ $opened == "$TUNNELS" ]] || die "only $opened tunnels opened"
touch "$WS/hold/release"
step_wait closed
sleep 1
sample after-close
touch "$WS/hold/exit"
wait "$HOLD_PID" || die "the tunnel client failed"
HOLD_PID=
echo "$open_secs" >"$RESULTS/hold_open_seconds.txt"
cat "$RESULTS/hold.tsv" >&2

# --- 4. launch: with and without the proxy ---------------------------------
CMD_LAUNCH_NONE="$CORRAL run -q -- true"
CMD_LAUNCH_NET="$CORRAL run -q --allow-net x.test:443 -- true"
phase launch
log "4/4 launch: hyperfine -N, $LAUNCH_WARMUP warmup + $LAUNCH_RUNS runs per command"
"$HYPERFINE" -N --style basic --warmup "$LAUNCH_WARMUP" --runs "$LAUNCH_RUNS" \
    --export-json "$RESULTS/launch.json" \
    -n no-net "$CMD_LAUNCH_NONE" \
    -n allow-net "$CMD_LAUNCH_NET" >&2

phase end

# --- 5. report -------------------------------------------------------------
q() { printf '%q ' "$@" | sed 's/ $//'; }
export CMD_CURL_DIRECT_S=$(q "${CMD_CURL_DIRECT[@]}") CMD_CURL_CONNECT_S=$(q "${CMD_CURL_CONNECT[@]}")
export CMD_CURL_FORWARD_S=$(q "${CMD_CURL_FORWARD[@]}") CMD_NB_DIRECT_S=$(q "${CMD_NB_DIRECT[@]}")
export CMD_NB_CONNECT_S=$(q "${CMD_NB_CONNECT[@]}") CMD_RR_DIRECT_S=$(q "${CMD_RR_DIRECT[@]}")
export CMD_RR_CONNECT_S=$(q "${CMD_RR_CONNECT[@]}") CMD_HOLD_S=$(q "${CMD_HOLD[@]}")
export CMD_LAUNCH_NONE CMD_LAUNCH_NET HEADER_NONE HEADER_NET NETNS_HOW
export BULK_MB BULK_BYTES BULK_REPS RR_N RR_ROUNDS RR_WARMUP TUNNELS LAUNCH_WARMUP LAUNCH_RUNS
export BULK_FILE_DIR=$(dirname "$BULK_FILE") HOLD_POLICY=$(cat "$RESULTS/hold.toml")
export NPROC=$(nproc) KERNEL=$(uname -r) DATE=$(date -u +%Y-%m-%dT%H:%MZ)
export CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
export AS_USER=$(id -un) HYPERFINE_VERSION=$("$HYPERFINE" --version) CURL_VERSION=$("$CURL" --version | head -n 1 | cut -d' ' -f1-2)
export PY_VERSION=$("$PY" -V 2>&1) CC_VERSION=$(cc --version | head -n 1)
"$PY" "$BENCH_DIR/proxy_report.py" "$RESULTS" >"$RESULTS/section.md"
cat "$RESULTS/section.md"

if [[ -n ${BENCH_NO_WRITE:-} ]]; then
    log "BENCH_NO_WRITE set: $MD left alone"
else
    "$PY" "$BENCH_DIR/update_section.py" "$MD" proxy "$RESULTS/section.md"
    log "updated the Egress proxy section of $MD"
fi
log "raw results: $RESULTS"
