#!/usr/bin/env bash
# permessage-deflate figures (issue 11), part of `make bench`; writes bench/deflate.md.
#
#   CPU per echoed JSON message (1 KiB and 16 KiB, 16 connections, compressed both ways with
#   context takeover) for the `switchyard` binary against the Rust crates that implement
#   permessage-deflate (yawc and sockudo-ws, from echo_server --features peers), Node's ws and
#   Python websockets, every server at 12-bit windows both ways, level 6 (ws and websockets at
#   memLevel 5 like the binary; the Rust crates cannot set it and use 8), the server on CPU 0
#   and the load generator on CPU 1, REPEATS (3) rounds of SECS (3) each, every server once per
#   round (each round starting with the next), medians; ratios are the binary's CPU per
#   message ÷ each peer's within a round. The extension each server agreed to is read from its
#   101 and printed in the table.
#   Then memory: RSS per idle connection of the binary after each of 10,000 connections carried
#   three compressed messages each way, with and without takeover. Then the compression ratio of
#   the same JSON against C zlib (CPython's zlib) at the same window, level and memLevel, one
#   sync flush per message with takeover.
# Needs scripts/tools.sh peers (node ws, the websockets venv).
set -euo pipefail
cd "$(dirname "$0")"
REPEATS=${REPEATS:-3} SECS=${SECS:-3} WARMUP=${WARMUP:-0.5} IDLE_CONNS=${IDLE_CONNS:-10000}
PEERS_DIR=../switchyard/tests/peers
PYTHON=${PEERS_PREFIX:-/opt/switchyard-peers}/venv/bin/python
OUT=deflate.md
nice cargo build --release --quiet --bins --features peers
(cd .. && nice cargo build --release --quiet -p switchyard-server --bin switchyard)
LOADGEN=target/release/loadgen
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PID=""
stop() { if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; fi; }
trap stop EXIT

# start IMPL: runs the server on CPU 0, sets PID and ADDR.
start() {
    local log=target/deflate-server.log
    # Emptied first: the server below truncates it only once it runs, and the wait for its
    # address must not read the previous server's.
    : >"$log.out"
    case $1 in
        switchyard-bin) taskset -c 0 ../target/release/switchyard --listen 127.0.0.1:0 >"$log.out" 2>"$log" & ;;
        ws) taskset -c 0 node "$PEERS_DIR/ws_peer.mjs" bench >"$log.out" 2>"$log" & ;;
        websockets) taskset -c 0 "$PYTHON" "$PEERS_DIR/websockets_peer.py" bench >"$log.out" 2>"$log" & ;;
        *) taskset -c 0 target/release/echo_server --impl "$1" --listen 127.0.0.1:0 >"$log.out" 2>"$log" & ;;
    esac
    PID=$!
    for _ in $(seq 100); do
        if grep -qE 'PORT|listening' "$log.out" 2>/dev/null; then break; fi
        sleep 0.1
    done
    ADDR=$(sed -nE 's#^PORT ([0-9]+)#127.0.0.1:\1#p; s#^listening ([0-9.]+:[0-9]+)$#\1#p; s#.*http://##p' "$log.out" | head -1)
    [[ -n $ADDR ]] || { echo "deflate.sh: $1 did not start" >&2; cat "$log" >&2; exit 1; }
}

field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# agreed ADDR: the Sec-WebSocket-Extensions of the server's 101 to the load generator's offer
# (the core's client offer, as Chrome's), so the table shows what each server really ran.
agreed() {
    (
        exec 3<>"/dev/tcp/${1%:*}/${1##*:}"
        printf 'GET /echo HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n' "$1" >&3
        while IFS= read -r -t 5 line <&3 && [[ $line != $'\r' ]]; do
            if [[ ${line,,} == sec-websocket-extensions:* ]]; then printf '%s' "${line#*: }" | tr -d '\r'; fi
        done
    ) || true
}

declare -A CPU AGREED OURS_RATIO
IMPLS=(switchyard-bin yawc-deflate sockudo-ws-deflate ws websockets)
PEERS=("${IMPLS[@]:1}")
for size in 1024 16384; do
    for ((r = 1; r <= REPEATS; r++)); do
        # Each round starts with a different server, so none always runs first.
        for ((i = 0; i < ${#IMPLS[@]}; i++)); do
            impl=${IMPLS[(i + r - 1) % ${#IMPLS[@]}]}
            start "$impl"
            [[ -n ${AGREED[$impl]:-} ]] || AGREED[$impl]=$(agreed "$ADDR")
            line=$(taskset -c 1 "$LOADGEN" echo --addr "$ADDR" --conns 16 --size "$size" \
                --deflate takeover --secs "$SECS" --warmup "$WARMUP" --server-pid "$PID")
            stop
            echo "$impl $size: $line"
            CPU[$impl:$size:$r]=$(awk -v c="$(field "$line" server_cpu_s)" -v n="$(field "$line" ops)" 'BEGIN { printf "%.2f", c * 1e6 / n }')
            if [[ $impl == switchyard-bin ]]; then OURS_RATIO[$size]=$(field "$line" wire_ratio); fi
        done
    done
done

# cpu IMPL SIZE: the median over the rounds; ratio PEER SIZE: the median over the rounds of the
# binary's figure ÷ the peer's in the same round, with the lowest and highest.
cpu() { for ((r = 1; r <= REPEATS; r++)); do echo "${CPU[$1:$2:$r]}"; done | median; }
ratio() {
    for ((r = 1; r <= REPEATS; r++)); do
        awk -v a="${CPU[switchyard-bin:$2:$r]}" -v b="${CPU[$1:$2:$r]}" 'BEGIN { printf "%.3f\n", a / b }'
    done | sort -g | awk '{ a[NR] = $1 } END { printf "%.2f× (%.2f–%.2f)", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

# Instructions per compressed echo under callgrind, for the binary and the two Rust peers:
# the figure this machine's noise cannot move (callgrind.sh; bench/callgrind-deflate.raw).
declare -A INSTR
CALLGRIND_IMPLS=(switchyard-bin yawc-deflate sockudo-ws-deflate)
OUT=callgrind-deflate.raw IMPLS="${CALLGRIND_IMPLS[*]}" SIZES="1024 16384" HS_CONNS=0 \
    ECHO_ARGS="--deflate takeover" ./callgrind.sh
while read -r line; do
    [[ $line == kind=callgrind* ]] || continue
    INSTR[$(field "$line" impl):$(field "$line" size)]=$(field "$line" instructions_per_echo)
done <callgrind-deflate.raw
instr_ratio() { awk -v a="${INSTR[switchyard-bin:$2]}" -v b="${INSTR[$1:$2]}" 'BEGIN { printf "%.2f×", a / b }'; }

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
    echo "Server CPU µs per echoed JSON message, compressed both ways with context takeover (median of $REPEATS rounds), and the binary's ÷ each peer's (median of the rounds' ratios, lowest–highest): below 1 the binary is cheaper."
    echo
    echo "| size | switchyard-bin | yawc 0.5 | sockudo-ws 3.1 | Node ws | Python websockets |"
    echo "|---|---:|---:|---:|---:|---:|"
    for size in 1024 16384; do
        row="| $size B, µs |"
        for impl in "${IMPLS[@]}"; do row+=" $(cpu "$impl" "$size") |"; done
        echo "$row"
        row="| $size B, switchyard ÷ peer | |"
        for impl in "${PEERS[@]}"; do row+=" $(ratio "$impl" "$size") |"; done
        echo "$row"
    done
    echo
    echo "User-space instructions per compressed echo (callgrind, 16 connections, \`bench/callgrind.sh\` with \`ECHO_ARGS=\"--deflate takeover\"\`; the engine's work included, the kernel's not), and the binary's ÷ each peer's:"
    echo
    echo "| size | switchyard-bin | yawc 0.5 | sockudo-ws 3.1 |"
    echo "|---|---:|---:|---:|"
    for size in 1024 16384; do
        row="| $size B |"
        for impl in "${CALLGRIND_IMPLS[@]}"; do
            row+=" ${INSTR[$impl:$size]}"
            [[ $impl == switchyard-bin ]] || row+=" ($(instr_ratio "$impl" "$size"))"
            row+=" |"
        done
        echo "$row"
    done
    echo
    echo "What each server agreed to the load generator's offer (\`permessage-deflate; client_max_window_bits\`), and its settings:"
    echo
    echo "| server | agreed | engine, level, memLevel |"
    echo "|---|---|---|"
    declare -A ENGINE=(
        [switchyard-bin]="zlib-rs 0.6 (the core), level 6, memLevel 5, threshold 32 B"
        [yawc-deflate]="flate2 on zlib-rs, level 6, memLevel 8 (flate2 fixes it), threshold 32 B; UTF-8 not checked (yawc's default)"
        [sockudo-ws-deflate]="flate2 on zlib-rs to compress, libz-rs-sys to inflate, level 6, memLevel 8 (flate2 fixes it), threshold 32 B"
        [ws]="Node's zlib (C), level 6, memLevel 5, threshold 32 B"
        [websockets]="CPython's zlib (C), its defaults: level 6, memLevel 5"
    )
    for impl in "${IMPLS[@]}"; do echo "| $impl | \`${AGREED[$impl]:-none}\` | ${ENGINE[$impl]} |"; done
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
