#!/usr/bin/env bash
# permessage-deflate figures (issue 11), part of `make bench`; writes bench/deflate.md.
#
#   CPU per echoed JSON message (1 KiB and 16 KiB, 16 connections, compressed both ways with
#   context takeover) for the `switchyard` binary against Node's ws and Python websockets,
#   every server at 12-bit windows both ways, level 6, memLevel 5 (ws set so, websockets at its
#   defaults), the server on CPU 0 and the load generator on CPU 1, REPEATS (3) interleaved
#   runs of SECS (3) each, medians. Then memory: RSS per idle connection of the binary after
#   each of 10,000 connections carried three compressed messages each way, with and without
#   takeover. Then the compression ratio of the same JSON against C zlib (CPython's zlib) at
#   the same window, level and memLevel, one sync flush per message with takeover.
# Needs scripts/tools.sh peers (node ws, the websockets venv).
set -euo pipefail
cd "$(dirname "$0")"
REPEATS=${REPEATS:-3} SECS=${SECS:-3} WARMUP=${WARMUP:-0.5} IDLE_CONNS=${IDLE_CONNS:-10000}
PEERS_DIR=../switchyard/tests/peers
PYTHON=${PEERS_PREFIX:-/opt/switchyard-peers}/venv/bin/python
OUT=deflate.md
nice cargo build --release --quiet --bin loadgen
(cd .. && nice cargo build --release --quiet -p switchyard-server --bin switchyard)
LOADGEN=target/release/loadgen
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PID=""
stop() { if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; fi; }
trap stop EXIT

# start IMPL: runs the server on CPU 0, sets PID and ADDR.
start() {
    local log=target/deflate-server.log
    case $1 in
        switchyard-bin) taskset -c 0 ../target/release/switchyard --listen 127.0.0.1:0 >"$log.out" 2>"$log" & ;;
        ws) taskset -c 0 node "$PEERS_DIR/ws_peer.mjs" bench >"$log.out" 2>"$log" & ;;
        websockets) taskset -c 0 "$PYTHON" "$PEERS_DIR/websockets_peer.py" bench >"$log.out" 2>"$log" & ;;
    esac
    PID=$!
    for _ in $(seq 100); do
        if grep -qE 'PORT|listening' "$log.out" 2>/dev/null; then break; fi
        sleep 0.1
    done
    ADDR=$(sed -nE 's#^PORT ([0-9]+)#127.0.0.1:\1#p; s#.*http://##p' "$log.out" | head -1)
    [[ -n $ADDR ]] || { echo "deflate.sh: $1 did not start" >&2; cat "$log" >&2; exit 1; }
}

field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A CPU OURS_RATIO
IMPLS=(switchyard-bin ws websockets)
for size in 1024 16384; do
    for ((r = 1; r <= REPEATS; r++)); do
        for impl in "${IMPLS[@]}"; do
            start "$impl"
            line=$(taskset -c 1 "$LOADGEN" echo --addr "$ADDR" --conns 16 --size "$size" \
                --deflate takeover --secs "$SECS" --warmup "$WARMUP" --server-pid "$PID")
            stop
            echo "$impl $size: $line"
            CPU[$impl:$size]+="$(awk -v c="$(field "$line" server_cpu_s)" -v n="$(field "$line" ops)" 'BEGIN { printf "%.2f", c * 1e6 / n }') "
            if [[ $impl == switchyard-bin ]]; then OURS_RATIO[$size]=$(field "$line" wire_ratio); fi
        done
    done
done

declare -A MEM
for mode in takeover reset; do
    start switchyard-bin
    line=$("$LOADGEN" idle --addr "$ADDR" --conns "$IDLE_CONNS" --server-pid "$PID" --deflate "$mode")
    stop
    echo "idle $mode: $line"
    MEM[$mode]=$(field "$line" kib_per_conn)
done

RATIOS=$("$PYTHON" - <<'PY'
import json, zlib
def corpus(size, seed):
    out, i = "", 0
    while len(out) < size:
        out += '{"seq":%d,"user":"user%d","room":"lobby","text":"message %d of the benchmark","ok":true},' % (i, (seed ^ i) % 113, i)
        i += 1
    return out[:size].encode()
# As the load generator does: each of 16 connections sends its own message over and over,
# one compressor per connection with takeover.
for size in (1024, 16384):
    total = wire = 0
    for seed in range(1, 17):
        c = zlib.compressobj(6, zlib.DEFLATED, -12, 5)
        m = corpus(size, seed)
        for _ in range(100):
            z = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
            total += len(m); wire += len(z) - 4
    print("%d %.4f" % (size, wire / total))
PY
)

{
    echo "# permessage-deflate: CPU, memory, ratio"
    echo
    echo "- run: $(date -u +%FT%TZ) repeats=$REPEATS secs=$SECS conns=16 (bench/deflate.sh)"
    echo
    echo "Server CPU µs per echoed JSON message, compressed both ways (median of $REPEATS); in parentheses ÷ the cheapest peer's."
    echo
    echo "| size | switchyard-bin | Node ws | Python websockets |"
    echo "|---|---:|---:|---:|"
    for size in 1024 16384; do
        declare -A m=()
        for impl in "${IMPLS[@]}"; do m[$impl]=$(tr ' ' '\n' <<<"${CPU[$impl:$size]}" | grep . | median); done
        best=$(printf '%s\n' "${m[ws]}" "${m[websockets]}" | sort -g | head -1)
        row="| $size B |"
        for impl in "${IMPLS[@]}"; do row+=" ${m[$impl]} ($(awk -v a="${m[$impl]}" -v b="$best" 'BEGIN { printf "%.2f×", a / b }')) |"; done
        echo "$row"
    done
    echo
    echo "RSS per idle connection of the binary, $IDLE_CONNS connections after three compressed 1 KiB messages each way: takeover ${MEM[takeover]} KiB, no takeover ${MEM[reset]} KiB (targets 16 and 4; Python websockets documents 64 KiB at its defaults)."
    echo
    echo "Compression ratio (wire ÷ payload) of the benchmark's JSON, 12-bit windows, level 6, memLevel 5, takeover:"
    echo
    echo "| size | switchyard (the load generator's client, frame headers included) | C zlib (CPython, 4-byte tail stripped) |"
    echo "|---|---:|---:|"
    while read -r size ratio; do echo "| $size B | ${OURS_RATIO[$size]} | $ratio |"; done <<<"$RATIOS"
} >"$OUT"
cat "$OUT"
