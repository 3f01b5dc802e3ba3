#!/usr/bin/env bash
# wss:// and WebSocket over HTTP/2 figures (issue 12), part of `make bench`; writes bench/tls.md.
#
#   Server CPU per echoed binary message, 16 connections x {1 KiB, 16 KiB}, every server with
#   rustls and the ring provider and the same certificate:
#   - switchyard-bin: the `switchyard` binary as shipped, `--tls-cert`/`--tls-key`, reached
#     over wss:// with HTTP/1.1 (the load generator offers ALPN http/1.1 only);
#   - switchyard-lib-tls and tungstenite-tls: the library's minimal echo server and
#     tokio-tungstenite 0.30, each behind the same tokio-rustls acceptor (echo_server);
#   - switchyard-bin-h2: the same binary, the 16 WebSockets as streams of one HTTP/2
#     connection (RFC 8441; ALPN h2). No peer on crates.io serves RFC 8441 in a comparable
#     way, so it is reported as a ratio to the binary's own wss:// HTTP/1.1 cell;
#   - switchyard-bin-128k and switchyard-bin-h2-128k: the same two, the binary started with
#     GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 instead of the 16 KiB threshold it
#     sets itself (server/src/malloc.rs), under which rustls' per-record buffers are mapped
#     and unmapped on every message (strace: two mmap and two munmap per 1 KiB echo).
#   The server on CPU 0 and the load generator on CPU 1, REPEATS (3) interleaved runs of
#   SECS (3) each after WARMUP (0.5), the order of the servers rotating from cell to cell;
#   medians. The certificate: a CA and a `localhost` leaf made with openssl for the run.
set -euo pipefail
cd "$(dirname "$0")"
REPEATS=${REPEATS:-3} SECS=${SECS:-3} WARMUP=${WARMUP:-0.5}
SIZES=(1024 16384)
CONNS=16
IMPLS=(switchyard-bin switchyard-bin-h2 switchyard-lib-tls tungstenite-tls
    switchyard-bin-128k switchyard-bin-h2-128k)
OUT=tls.md
RAW=tls.raw
command -v openssl >/dev/null || { echo "tls.sh: needs openssl (apt-get install openssl)" >&2; exit 1; }
nice cargo build --release --quiet --bins --features tls
(cd .. && nice cargo build --release --quiet -p switchyard-server --bin switchyard)
LOADGEN=target/release/loadgen

# One CA and one leaf for `localhost` and 127.0.0.1, P-256, valid for a day.
CERTS=target/tls
mkdir -p "$CERTS"
(
    cd "$CERTS"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj "/CN=switchyard bench CA" -keyout ca-key.pem -out ca.pem \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=localhost" -keyout key.pem -out leaf.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >leaf.ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 \
        -extfile leaf.ext -out cert.pem
) 2>"$CERTS/openssl.log"
CERT=$CERTS/cert.pem KEY=$CERTS/key.pem CA=$CERTS/ca.pem

if command -v taskset >/dev/null && (($(nproc) >= 2)); then
    SERVER_CPU=(taskset -c 0) LOADGEN_CPU=(taskset -c 1)
else
    echo "tls.sh: no taskset or one CPU: running unpinned" >&2
    SERVER_CPU=() LOADGEN_CPU=()
fi

PID=""
stop() { if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; fi; }
trap stop EXIT

# start IMPL: runs the server on CPU 0, sets PID and ADDR.
start() {
    local out=target/tls-server.out log=target/tls-server.log
    : >"$out"
    case $1 in
    switchyard-bin*)
        local tunables=()
        [[ $1 == *-128k ]] && tunables=(env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072)
        "${SERVER_CPU[@]}" "${tunables[@]}" ../target/release/switchyard --listen 127.0.0.1:0 \
            --tls-cert "$CERT" --tls-key "$KEY" >"$out" 2>"$log" &
        ;;
    *)
        "${SERVER_CPU[@]}" target/release/echo_server --impl "$1" --listen 127.0.0.1:0 \
            --tls-cert "$CERT" --tls-key "$KEY" >"$out" 2>"$log" &
        ;;
    esac
    PID=$!
    for _ in $(seq 100); do
        if grep -qE '^listening|https://' "$out" 2>/dev/null; then break; fi
        sleep 0.05
    done
    ADDR=$(sed -nE 's#^listening ##p; s#.*https://##p' "$out" | head -1)
    [[ -n $ADDR ]] || { echo "tls.sh: $1 did not start" >&2; cat "$log" >&2; exit 1; }
}

field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }

echo "# run: $(date -u +%FT%TZ) repeats=$REPEATS secs=$SECS warmup=$WARMUP conns=$CONNS" >"$RAW"
declare -A CPU RATE
ROTATION=0
for ((r = 1; r <= REPEATS; r++)); do
    for size in "${SIZES[@]}"; do
        n=${#IMPLS[@]}
        for ((i = 0; i < n; i++)); do
            impl=${IMPLS[(i + ROTATION) % n]}
            mode=(--tls "$CA")
            [[ $impl == *-h2* ]] && mode+=(--http2)
            start "$impl"
            line=$("${LOADGEN_CPU[@]}" "$LOADGEN" echo --addr "$ADDR" --conns "$CONNS" \
                --size "$size" --secs "$SECS" --warmup "$WARMUP" --server-pid "$PID" "${mode[@]}")
            stop
            echo "impl=$impl repeat=$r $line" | tee -a "$RAW"
            CPU[$impl:$size]+="$(awk -v c="$(field "$line" server_cpu_s)" -v n="$(field "$line" ops)" 'BEGIN { printf "%.2f", c * 1e6 / n }') "
            RATE[$impl:$size]+="$(field "$line" ops_per_s) "
        done
        ROTATION=$((ROTATION + 1))
    done
done

{
    echo "# wss:// and WebSocket over HTTP/2: server CPU per echoed message"
    echo
    echo "- run: $(date -u +%FT%TZ), \`bench/tls.sh\` (REPEATS=$REPEATS SECS=$SECS WARMUP=$WARMUP), $CONNS connections, binary messages"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs, Linux $(uname -r); server on CPU 0, load generator on CPU 1"
    echo "- every server: rustls with the ring provider, the same P-256 certificate; raw lines in \`bench/$RAW\`"
    echo
    echo "Server CPU µs per echoed message (median of $REPEATS), and messages/s (median):"
    echo
    echo "| server | 1 KiB: CPU µs | 1 KiB: msg/s | 16 KiB: CPU µs | 16 KiB: msg/s |"
    echo "|---|---:|---:|---:|---:|"
    declare -A M
    for impl in "${IMPLS[@]}"; do
        row="| $impl |"
        for size in "${SIZES[@]}"; do
            M[$impl:$size]=$(tr ' ' '\n' <<<"${CPU[$impl:$size]}" | grep . | median)
            rate=$(tr ' ' '\n' <<<"${RATE[$impl:$size]}" | grep . | median)
            row+=" ${M[$impl:$size]} | $(printf '%.0f' "$rate") |"
        done
        echo "$row"
    done
    echo
    echo "Ratios of server CPU per message (below 1: the first is cheaper):"
    echo
    echo "| ratio | 1 KiB | 16 KiB |"
    echo "|---|---:|---:|"
    for pair in switchyard-bin:tungstenite-tls switchyard-lib-tls:tungstenite-tls \
        switchyard-bin-128k:tungstenite-tls switchyard-bin-h2:switchyard-bin \
        switchyard-bin-h2-128k:switchyard-bin-128k; do
        a=${pair%%:*} b=${pair#*:}
        echo "| $a ÷ $b | $(ratio "${M[$a:1024]}" "${M[$b:1024]}") | $(ratio "${M[$a:16384]}" "${M[$b:16384]}") |"
    done
} >"$OUT"
cat "$OUT"
