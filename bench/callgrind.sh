#!/usr/bin/env bash
# Instructions per echo, counted by callgrind: a figure that the machine's noise cannot move,
# which decides a cell whose CPU-time ratio lies within 10% of its bound (issue 10 §4).
#
#   bench/callgrind.sh     writes bench/callgrind.raw, which bench/src/bin/report reads
#
# Method: each server runs under `valgrind --tool=callgrind` twice with the same CONNS
# connections (upgraded, then closed with the closing handshake): once carrying M echoes of
# SIZE bytes per connection, once carrying none. Instructions per echo = (total instructions
# of the first run − total of the second) ÷ (CONNS × M): accept, handshake and close cancel
# out, and what remains is the user-space work of the echoes (system calls count as the
# instructions that issue them; the kernel's work is not counted).
#
# Instructions per handshake, the same way: (a run of HS_CONNS connections carrying no
# message − a run of CONNS) ÷ (HS_CONNS − CONNS).
#
# Each run counts only what follows one warm-up echo on a connection of its own: the counters
# are zeroed after it (`callgrind_control -z`), and it ends once the load generator is done
# and the server's tasks have ended, before the server is stopped (`callgrind_control -d`):
# how a server exits is not what a connection costs. Work a server does once, at a time of
# its own choosing, is then left out of both runs rather than of one: sockudo-ws calibrates
# its clock (the quanta crate) on first use for as long as calibration takes, millions of
# instructions that once made its 0-message baseline count more than its 50-echo run. And a
# run's count can only grow with work that is not being measured (a server's idle threads
# waking), so every count, echoes' and handshakes', is the lower of two runs.
#
# Environment: IMPLS (default: switchyard-lib, switchyard-bin, and the peers that contend
# for cheapest: fastwebsockets, tokio-websockets, sockudo-ws and yawc; tungstenite never
# does), SIZES (16 1024 65536), CONNS (16), HS_CONNS (216; 0 skips the handshakes), ECHO_ARGS
# (more `loadgen echo` arguments, such as `--deflate takeover` for deflate.sh) and OUT
# (callgrind.raw).
set -euo pipefail

cd "$(dirname "$0")"
read -r -a IMPLS <<<"${IMPLS:-switchyard-lib switchyard-bin fastwebsockets tokio-websockets sockudo-ws yawc}"
read -r -a SIZES <<<"${SIZES:-16 1024 65536}"
read -r -a ECHO_ARGS <<<"${ECHO_ARGS:-}"
CONNS=${CONNS:-16}
HS_CONNS=${HS_CONNS:-216}
OUT=${OUT:-callgrind.raw}

# valgrind from the distribution, installed only if missing.
if ! command -v valgrind >/dev/null; then
    if [[ $EUID -eq 0 ]]; then AS_ROOT=(); else AS_ROOT=(sudo -n); fi
    "${AS_ROOT[@]}" apt-get update -qq
    "${AS_ROOT[@]}" apt-get install -y -qq valgrind
fi

nice cargo build --release --quiet --bins --features peers
(cd .. && nice cargo build --release --quiet -p switchyard-server --bin switchyard)
BIN=target/release
mkdir -p target/callgrind

SERVER_PID=
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        # SIGTERM: the binary shuts down gracefully; echo_server dies of it, and valgrind
        # writes the profile either way.
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

# count IMPL SIZE MESSAGES [CONNECTIONS]: one server under callgrind, CONNECTIONS (CONNS)
# connections each carrying MESSAGES echoes; prints the total instructions the server
# executed.
count() {
    local impl=$1 size=$2 messages=$3 conns=${4:-$CONNS} profile line addr=
    profile=target/callgrind/$impl-$size-$messages-$conns.out
    : >target/callgrind/server.out
    rm -f "$profile" "$profile".*
    local server=("$BIN/echo_server" --impl "$impl" --listen 127.0.0.1:0)
    # The binary tunes glibc's malloc (callgrind runs the program's own malloc) by executing
    # itself again with GLIBC_TUNABLES set (server/src/malloc.rs): valgrind follows that exec,
    # so the binary is counted as shipped.
    if [[ $impl == switchyard-bin ]]; then
        server=(../target/release/switchyard --listen 127.0.0.1:0)
    fi
    taskset -c 0 valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$profile" \
        "${server[@]}" >target/callgrind/server.out 2>target/callgrind/valgrind.log &
    SERVER_PID=$!
    for _ in $(seq 600); do
        read -r line <target/callgrind/server.out || true
        case $line in
        listening\ *) addr=${line#listening } && break ;;
        *http://*) addr=${line##*http://} && break ;;
        esac
        sleep 0.05
    done
    if [[ -z $addr ]]; then
        echo "callgrind.sh: $impl did not start listening under valgrind" >&2
        return 1
    fi
    # The warm-up echo, then the counters start from zero.
    taskset -c 1 "$BIN/loadgen" echo --addr "$addr" --conns 1 --size "$size" --messages 1 \
        "${ECHO_ARGS[@]}" >/dev/null
    callgrind_control -z "$SERVER_PID" >/dev/null 2>&1
    taskset -c 1 "$BIN/loadgen" echo --addr "$addr" --conns "$conns" --size "$size" \
        --messages "$messages" "${ECHO_ARGS[@]}" >/dev/null
    # The count ends before the server does: a second for the last connections' tasks to end,
    # then a dump ("$profile.1"). What a server does on its way out is not per-connection
    # work: the peers die of the SIGTERM, while the binary shuts down gracefully and its thread
    # gives back what glibc cached for it, more the more connections came and went.
    sleep 1
    callgrind_control -d "$SERVER_PID" >/dev/null 2>&1
    stop_server
    # The dump's `totals:` line (one event, instructions).
    awk '/^totals:/ { print $2 }' "$profile.1"
}

# least IMPL SIZE MESSAGES [CONNECTIONS]: the lower total of two `count`s.
least() {
    local a b
    a=$(count "$@")
    b=$(count "$@")
    if [[ -z $a || -z $b ]]; then
        return 1
    fi
    echo $((a < b ? a : b))
}

{
    echo "# callgrind: $(date -u +%FT%TZ) $(valgrind --version) conns=$CONNS ${ECHO_ARGS[*]}"
} >"$OUT"
for size in "${SIZES[@]}"; do
    # Enough echoes that they dwarf what differs between two runs of nothing (about 10^5
    # instructions of scheduling jitter), few enough that valgrind stays quick.
    if ((size >= 4096)); then messages=50; else messages=500; fi
    for impl in "${IMPLS[@]}"; do
        if ! total=$(least "$impl" "$size" "$messages") || ! baseline=$(least "$impl" "$size" 0); then
            echo "callgrind.sh: no profile for $impl at $size B (see bench/target/callgrind/valgrind.log)" >&2
            exit 1
        fi
        echoes=$((CONNS * messages))
        line="kind=callgrind impl=$impl conns=$CONNS size=$size echoes=$echoes instructions=$total baseline=$baseline instructions_per_echo=$(((total - baseline) / echoes))"
        echo "$line" >>"$OUT"
        echo "  $line"
    done
done
if ((HS_CONNS > CONNS)); then
    for impl in "${IMPLS[@]}"; do
        if ! total=$(least "$impl" 16 0 "$HS_CONNS") || ! baseline=$(least "$impl" 16 0 "$CONNS"); then
            echo "callgrind.sh: no handshake profile for $impl (see bench/target/callgrind/valgrind.log)" >&2
            exit 1
        fi
        handshakes=$((HS_CONNS - CONNS))
        line="kind=callgrind_handshake impl=$impl conns=$HS_CONNS baseline_conns=$CONNS instructions=$total baseline=$baseline instructions_per_handshake=$(((total - baseline) / handshakes))"
        echo "$line" >>"$OUT"
        echo "  $line"
    done
fi
echo "wrote bench/$OUT"
