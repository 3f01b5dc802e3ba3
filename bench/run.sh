#!/usr/bin/env bash
# The load benchmark: the plain TCP echo floor, the switchyard library's minimal echo server
# (switchyard-lib) and the shipped `switchyard` binary (switchyard-bin) against five Rust
# WebSocket servers, driven by our own load generator (src/bin/loadgen/).
#
#   bench/run.sh           full run, with the peers: CPU per message for {1,16,256}
#                          connections x {16 B, 1 KiB, 64 KiB}, CPU per handshake, memory per
#                          idle connection (never used, and after one 1 MiB echo each), then
#                          the core's criterion benches; writes bench/results.raw (the raw
#                          lines) and, with bench/callgrind.sh's figures, bench/results.md and
#                          bench/results.svg
#   bench/run.sh --smoke   the floor, switchyard-lib and switchyard-bin only (the peers are not
#                          even built), a few short cells, 100 idle connections; exits 0 only
#                          if every server answered every message (and close) byte for byte
#
# Environment: REPEATS (default 5), SECS per cell (default 3; an echo run's window, shared
# by the server and the floor), SLICE (0.25: one turn of a paired echo run), WARMUP (0.5), IDLE_CONNS
# (10000), HANDSHAKE_WORKERS (4), HANDSHAKE_ROUNDS (3: rotated runs of the handshake cell per
# repeat, so its median is over 15 runs; see bench/README.md), ONE_CONN_ROUNDS (3: rotated runs
# of each one-connection echo cell per repeat, for the same reason), IMPLS (space-separated; default every server), CELLS
# (space-separated conns:size; default all nine), ECHO_BYTES (the message of the second
# memory measurement, 1048576), RSS_CAP_KIB (default a quarter of the machine's available
# memory: a server past it stops being given connections, so that one that keeps megabytes
# per connection cannot exhaust a shared machine; its figure is then over fewer connections).
#
# Every server runs on CPU 0 and the load generator on CPU 1 (taskset); the binary runs as
# shipped, which on one CPU is Tokio's single-threaded runtime. Servers are interleaved cell by cell, in
# a rotating order, so that drift of the machine hits all of them alike; each figure is the
# median over the repeats. The load generator reads the server's CPU time at the edges of
# the measured window (/proc/<pid>/stat; for the turns of a paired echo run, the exact
# nanoseconds of /proc/<pid>/task/*/schedstat): CPU per message is the stable figure on a
# noisy VM, messages/s the one users feel.
#
# Every echo run is paired with the floor (loadgen echo --floor-addr): one floor process
# runs for the whole benchmark, and within each run's window of SECS the server and the
# floor take turns of about SLICE seconds (0.25), each measured over its own turns. This
# host moves every server's cost between two modes about 1.23x apart for seconds at a time
# (bench/README.md); a server and the floor measured at the same moments share the mode, so
# the report compares servers by their ratio to the floor, run by run. The floor is not
# run on its own in the echo cells: its figures are its turns in every run.
set -euo pipefail

cd "$(dirname "$0")"
SMOKE=0
if [[ ${1:-} == --smoke ]]; then
    SMOKE=1
elif [[ $# -gt 0 ]]; then
    echo "usage: bench/run.sh [--smoke]" >&2
    exit 2
fi

OURS="floor switchyard-lib switchyard-bin"
PEERS="tungstenite fastwebsockets tokio-websockets sockudo-ws yawc"
HANDSHAKE_WORKERS=${HANDSHAKE_WORKERS:-4}
HANDSHAKE_ROUNDS=${HANDSHAKE_ROUNDS:-3}
ONE_CONN_ROUNDS=${ONE_CONN_ROUNDS:-3}
ECHO_BYTES=${ECHO_BYTES:-1048576}
RSS_CAP_KIB=${RSS_CAP_KIB:-$(awk '/MemAvailable/ { print int($2 / 4) }' /proc/meminfo)}
if ((SMOKE)); then
    read -r -a IMPLS <<<"$OURS"
    REPEATS=1 SECS=1 WARMUP=0.2 IDLE_CONNS=100 HANDSHAKE_ROUNDS=1 ONE_CONN_ROUNDS=1 SLICE=0.25
    # conns:size[:text]
    CELLS=("1:16" "16:65536" "16:1024:text")
    RAW=target/smoke.raw
    FEATURES=()
else
    read -r -a IMPLS <<<"${IMPLS:-$OURS $PEERS}"
    REPEATS=${REPEATS:-5} SECS=${SECS:-3} WARMUP=${WARMUP:-0.5} IDLE_CONNS=${IDLE_CONNS:-10000}
    SLICE=${SLICE:-0.25}
    if [[ -n ${CELLS:-} ]]; then
        read -r -a CELLS <<<"$CELLS"
    else
        CELLS=()
        for conns in 1 16 256; do
            for size in 16 1024 65536; do CELLS+=("$conns:$size"); done
        done
    fi
    RAW=results.raw
    FEATURES=(--features peers)
fi

nice cargo build --release --quiet --bins "${FEATURES[@]}"
(cd .. && nice cargo build --release --quiet -p switchyard-server --bin switchyard)
BIN=target/release
SWITCHYARD_BIN=../target/release/switchyard

# 10,000 idle connections need 10,000 descriptors in each process: root raises the hard
# limit too.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if ((IDLE_CONNS + 100 > $(ulimit -n))); then
    echo "run.sh: fd limit $(ulimit -n) is below $IDLE_CONNS idle connections" >&2
    exit 1
fi

if command -v taskset >/dev/null && (($(nproc) >= 2)); then
    SERVER_CPU=(taskset -c 0) LOADGEN_CPU=(taskset -c 1)
else
    echo "run.sh: no taskset or one CPU: running unpinned" >&2
    SERVER_CPU=() LOADGEN_CPU=()
fi

mkdir -p target
{
    echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r), $(rustc --version)"
    echo "# run: $(date -u +%FT%TZ) repeats=$REPEATS secs=$SECS slice=$SLICE paired_floor=yes warmup=$WARMUP idle_conns=$IDLE_CONNS echo_bytes=$ECHO_BYTES rss_cap_kib=$RSS_CAP_KIB handshake_workers=$HANDSHAKE_WORKERS handshake_rounds=$HANDSHAKE_ROUNDS one_conn_rounds=$ONE_CONN_ROUNDS pinned=$([[ ${#SERVER_CPU[@]} -gt 0 ]] && echo yes || echo no)"
} >"$RAW"

SERVER_PID= FLOOR_PID=
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
stop_all() {
    stop_server
    SERVER_PID=$FLOOR_PID FLOOR_PID=
    stop_server
}
trap stop_all EXIT

# Starts one server on a free port and waits for the address it prints once bound: the
# binary as shipped (default flags, its log on stderr kept in a file), every other server
# from echo_server.
start_server() {
    local impl=$1 out=target/server-$1.out line
    : >"$out"
    if [[ $impl == switchyard-bin ]]; then
        "${SERVER_CPU[@]}" "$SWITCHYARD_BIN" --listen 127.0.0.1:0 >"$out" \
            2>target/server.log &
    else
        "${SERVER_CPU[@]}" "$BIN/echo_server" --impl "$impl" --listen 127.0.0.1:0 \
            >"$out" &
    fi
    SERVER_PID=$!
    for _ in $(seq 100); do
        read -r line <"$out" || true
        case $line in
        listening\ *) ADDR=${line#listening } && return 0 ;;
        *http://*) ADDR=${line##*http://} && return 0 ;;
        esac
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "run.sh: $impl did not start listening" >&2
    return 1
}

FAILED=0
# run_one KIND IMPL REPEAT LOADGEN-ARGS...: one server, one load generator, one raw line.
run_one() {
    local kind=$1 impl=$2 repeat=$3 out
    shift 3
    if ! start_server "$impl"; then
        FAILED=$((FAILED + 1))
        stop_server
        return
    fi
    if out=$("${LOADGEN_CPU[@]}" "$BIN/loadgen" "$kind" --addr "$ADDR" --server-pid "$SERVER_PID" "$@") &&
        kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "kind=$kind impl=$impl repeat=$repeat $out" >>"$RAW"
        printf '  %-16s %s\n' "$impl" "$out"
    else
        echo "run.sh: FAILED: $kind $impl $* (repeat $repeat)" >&2
        echo "kind=$kind impl=$impl repeat=$repeat failed=1 $*" >>"$RAW"
        FAILED=$((FAILED + 1))
    fi
    stop_server
}

# The order of the servers rotates from one cell to the next.
ROTATION=0
rotated_impls() {
    local n=${#IMPLS[@]} i
    ORDER=()
    for ((i = 0; i < n; i++)); do ORDER+=("${IMPLS[(i + ROTATION) % n]}"); done
    ROTATION=$((ROTATION + 1))
}

# The floor every echo run is paired with, for the whole benchmark.
start_server floor
FLOOR_PID=$SERVER_PID FLOOR_ADDR=$ADDR SERVER_PID=

for ((repeat = 1; repeat <= REPEATS; repeat++)); do
    for cell in "${CELLS[@]}"; do
        IFS=: read -r conns size text <<<"$cell"
        # One connection: the server sleeps between messages, and a run's cost depends on
        # how the host wakes it; runs of the same server spread several times as widely
        # as with 16 connections, even paired (bench/README.md). More runs, not longer ones:
        # the spread is from run to run, and longer windows did not narrow it.
        rounds=1
        ((conns == 1)) && rounds=$ONE_CONN_ROUNDS
        for ((round = 1; round <= rounds; round++)); do
            echo "repeat $repeat/$REPEATS: echo, $conns connection(s) x $size B${text:+ text}, round $round/$rounds"
            rotated_impls
            for impl in "${ORDER[@]}"; do
                [[ $impl == floor ]] && continue
                run_one echo "$impl" "$repeat" --conns "$conns" --size "$size" ${text:+--text} \
                    --secs "$SECS" --warmup "$WARMUP" --slice "$SLICE" \
                    --floor-addr "$FLOOR_ADDR" --floor-pid "$FLOOR_PID"
            done
        done
    done
    for ((round = 1; round <= HANDSHAKE_ROUNDS; round++)); do
        echo "repeat $repeat/$REPEATS: handshakes ($HANDSHAKE_WORKERS workers), round $round/$HANDSHAKE_ROUNDS"
        rotated_impls
        for impl in "${ORDER[@]}"; do
            [[ $impl == floor ]] && continue
            run_one handshakes "$impl" "$repeat" --conns "$HANDSHAKE_WORKERS" --secs "$SECS" \
                --warmup "$WARMUP"
        done
    done
    echo "repeat $repeat/$REPEATS: $IDLE_CONNS idle connections, never used"
    rotated_impls
    for impl in "${ORDER[@]}"; do
        [[ $impl == floor ]] && continue
        run_one idle "$impl" "$repeat" --conns "$IDLE_CONNS" --rss-cap-kib "$RSS_CAP_KIB"
    done
    echo "repeat $repeat/$REPEATS: $IDLE_CONNS idle connections, after one $ECHO_BYTES B echo each"
    for impl in "${ORDER[@]}"; do
        [[ $impl == switchyard-lib || $impl == switchyard-bin ]] || continue
        run_one idle "$impl" "$repeat" --conns "$IDLE_CONNS" --echo-bytes "$ECHO_BYTES" \
            --rss-cap-kib "$RSS_CAP_KIB"
    done
done

if ((SMOKE)); then
    if ((FAILED)); then
        echo "bench smoke: $FAILED run(s) failed" >&2
        exit 1
    fi
    echo "bench smoke: every server echoed every message byte for byte"
    exit 0
fi

# The core's criterion benches (masking vs memcpy, UTF-8, header codec, accept key), in the
# main workspace, with `std` as the server builds it (runtime SIMD detection for UTF-8); the
# report reads criterion's estimates from its target directory.
(cd .. && nice cargo bench --quiet -p switchyard-core --features std --bench core -- \
    --warm-up-time 1 --measurement-time 3 --noplot) >target/criterion.log 2>&1 ||
    echo "run.sh: the core's criterion benches failed (see bench/target/criterion.log)" >&2

echo "wrote bench/$RAW"
if ((FAILED)); then
    echo "run.sh: $FAILED run(s) failed (see bench/results.raw)" >&2
    exit 1
fi
