#!/usr/bin/env bash
# Chat rooms across nodes on Redis (issue 13), part of `make bench`; writes bench/chat.md.
#
#   The `switchyard` binary's /chat under a fixed offered load (`loadgen chat`: SUBS
#   subscribers and PUBS publishers in ROOMS rooms, each publisher sending RATE messages a
#   second of SIZE bytes stamped with their send time, every delivery checked: no seq gap,
#   every member gets every message of its room, each publisher's in order) in three scenarios:
#     (a) one node, rooms in process (the baseline);
#     (b) one node with --redis;
#     (c) NODES (3) nodes on one Redis, subscribers spread over them, publishers on all.
#   Figures: delivered messages/s, publish → receive latency p50 and p99, and server CPU per
#   delivered message (the nodes' CPU time summed, from /proc/<pid>/stat, ÷ deliveries; the
#   Redis server's apart), each as a ratio to (a). REPEATS (3) interleaved runs of SECS (10)
#   after WARMUP (1), medians. The nodes and a private redis-server (127.0.0.1, a free port,
#   no persistence, stopped by its PID at the end) run on CPU 0, the load generator on CPU 1.
#   At the defaults (SUBS 150, PUBS 6, ROOMS 2, RATE 40, SIZE 64: 240 messages/s offered,
#   about 18,700 deliveries/s) the baseline keeps CPU 0 about half busy: every scenario
#   should keep up, so delivered/s shows loss or lag, and CPU and latency show the cost.
#   RATE stays under the binary's default --chat-rate (50 a second per connection): every
#   node runs with default flags. About two minutes at the defaults.
# Needs redis-server (scripts/tools.sh redis).
set -euo pipefail
cd "$(dirname "$0")"
REPEATS=${REPEATS:-3} SECS=${SECS:-10} WARMUP=${WARMUP:-1} NODES=${NODES:-3}
SUBS=${SUBS:-150} PUBS=${PUBS:-6} ROOMS=${ROOMS:-2} RATE=${RATE:-40} SIZE=${SIZE:-64}
OUT=chat.md
nice cargo build --release --quiet --bin loadgen
(cd .. && nice cargo build --release --quiet -p switchyard-server --bin switchyard)
LOADGEN=target/release/loadgen
SWITCHYARD=../target/release/switchyard
command -v redis-server >/dev/null || { echo "chat.sh: no redis-server (scripts/tools.sh redis)" >&2; exit 1; }
if command -v taskset >/dev/null && (($(nproc) >= 2)); then
    SERVER_CPU=(taskset -c 0) LOADGEN_CPU=(taskset -c 1)
else
    echo "chat.sh: no taskset or one CPU: running unpinned" >&2
    SERVER_CPU=() LOADGEN_CPU=()
fi
mkdir -p target

NODE_PIDS=() ADDRS=() REDIS_PID="" REDIS_PORT="" RAW=""
stop_nodes() {
    local pid
    for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    NODE_PIDS=() ADDRS=()
}
stop_all() {
    stop_nodes
    if [[ -n $REDIS_PID ]]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
}
trap stop_all EXIT

# A free port is one our redis-server could bind: try random ones until the server answering
# on the port is ours (its process_id), or our process has died and another port is due.
for _ in $(seq 20); do
    port=$((20000 + RANDOM % 40000))
    "${SERVER_CPU[@]}" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        >target/chat-redis.log 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        if redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | grep -q "^process_id:$pid"; then
            REDIS_PID=$pid REDIS_PORT=$port
            break 2
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
[[ -n $REDIS_PID ]] || { echo "chat.sh: redis-server did not start" >&2; cat target/chat-redis.log >&2; exit 1; }
REDIS_URL=redis://127.0.0.1:$REDIS_PORT

# start_node [--redis URL]: one node on CPU 0; appends its PID and address, and with Redis
# waits until its link is up (before that, /chat answers 503).
start_node() {
    local log=target/chat-node${#NODE_PIDS[@]} addr=""
    # Emptied here, not by the redirection below: that happens in the background, and the
    # wait could read the address of the previous run's node.
    : >"$log.out"
    "${SERVER_CPU[@]}" "$SWITCHYARD" --listen 127.0.0.1:0 "$@" >"$log.out" 2>"$log.log" &
    NODE_PIDS+=($!)
    for _ in $(seq 100); do
        addr=$(sed -nE 's#.*listening on http://##p' "$log.out")
        [[ -n $addr ]] && break
        sleep 0.05
    done
    [[ -n $addr ]] || { echo "chat.sh: a node did not start" >&2; cat "$log.log" >&2; exit 1; }
    ADDRS+=("$addr")
    if [[ $# -gt 0 ]]; then
        for _ in $(seq 200); do
            [[ $(curl -sf "http://$addr/healthz") == *"redis: up"* ]] && return 0
            sleep 0.05
        done
        echo "chat.sh: a node's Redis link did not come up" >&2
        exit 1
    fi
}

field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# per_delivery CPU_SECONDS DELIVERIES: µs
per_delivery() { awk -v c="$1" -v n="$2" 'BEGIN { printf "%.2f", c * 1e6 / n }'; }

SCENARIOS=(a b c)
declare -A LABEL=([a]="(a) 1 node, in-process hub" [b]="(b) 1 node, Redis" [c]="(c) $NODES nodes, one Redis")
declare -A RATE_S P50 P99 CPU REDIS_CPU LOADGEN_CPU_US
for ((r = 1; r <= REPEATS; r++)); do
    for ((i = 0; i < ${#SCENARIOS[@]}; i++)); do
        # The order rotates from one repeat to the next.
        s=${SCENARIOS[(i + r - 1) % ${#SCENARIOS[@]}]}
        case $s in
            a) start_node ;;
            b) start_node --redis "$REDIS_URL" ;;
            c) for _ in $(seq "$NODES"); do start_node --redis "$REDIS_URL"; done ;;
        esac
        broker=()
        [[ $s == a ]] || broker=(--broker-pid "$REDIS_PID")
        line=$("${LOADGEN_CPU[@]}" "$LOADGEN" chat --addr "$(IFS=,; echo "${ADDRS[*]}")" \
            --subs "$SUBS" --pubs "$PUBS" --rooms "$ROOMS" --rate "$RATE" --size "$SIZE" \
            --secs "$SECS" --warmup "$WARMUP" --server-pid "$(IFS=,; echo "${NODE_PIDS[*]}")" \
            "${broker[@]}")
        stop_nodes
        echo "$s $r: $line"
        RAW+="$s $r: $line"$'\n'
        ops=$(field "$line" ops)
        RATE_S[$s]+="$(printf '%.0f' "$(field "$line" ops_per_s)") "
        P50[$s]+="$(field "$line" p50_us) "
        P99[$s]+="$(field "$line" p99_us) "
        CPU[$s]+="$(per_delivery "$(field "$line" server_cpu_s)" "$ops") "
        REDIS_CPU[$s]+="$(per_delivery "$(field "$line" broker_cpu_s)" "$ops") "
        LOADGEN_CPU_US[$s]+="$(per_delivery "$(field "$line" loadgen_cpu_s)" "$ops") "
    done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }
{
    echo "# Chat rooms across nodes: delivery rate, latency and CPU against one in-process node"
    echo
    echo "- command: \`bench/chat.sh\` (part of \`make bench\`)"
    echo "- run: $(date -u +%FT%TZ) repeats=$REPEATS secs=$SECS warmup=$WARMUP subs=$SUBS pubs=$PUBS rooms=$ROOMS rate=$RATE/s per publisher size=${SIZE} B"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs, Linux $(uname -r); $(redis-server --version | cut -d' ' -f1-3)"
    echo
    echo "Offered: $((PUBS * RATE)) messages/s published, each delivered to the $(((SUBS + PUBS) / ROOMS)) members of its room (publishers included)."
    echo "Nodes and Redis on CPU 0, the load generator on CPU 1. Medians of $REPEATS; in parentheses ÷ (a)."
    echo "Server CPU is the nodes' (summed); Redis's is apart, and added in the last column."
    echo
    echo "| scenario | delivered msg/s | p50 latency µs | p99 latency µs | nodes' CPU µs per delivery | Redis CPU µs per delivery | nodes + Redis µs per delivery |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    base_rate=$(med "${RATE_S[a]}") base_p50=$(med "${P50[a]}") base_p99=$(med "${P99[a]}") base_cpu=$(med "${CPU[a]}")
    for s in "${SCENARIOS[@]}"; do
        rate=$(med "${RATE_S[$s]}") p50=$(med "${P50[$s]}") p99=$(med "${P99[$s]}")
        cpu=$(med "${CPU[$s]}") redis=$(med "${REDIS_CPU[$s]}")
        total=$(awk -v a="$cpu" -v b="$redis" 'BEGIN { printf "%.2f", a + b }')
        echo "| ${LABEL[$s]} | $rate ($(ratio "$rate" "$base_rate")) | $p50 ($(ratio "$p50" "$base_p50")) | $p99 ($(ratio "$p99" "$base_p99")) | $cpu ($(ratio "$cpu" "$base_cpu")) | $redis | $total ($(ratio "$total" "$base_cpu")) |"
    done
    echo
    echo "Load generator CPU µs per delivery (medians): a $(med "${LOADGEN_CPU_US[a]}"), b $(med "${LOADGEN_CPU_US[b]}"), c $(med "${LOADGEN_CPU_US[c]}")."
    echo
    echo "The load generator's lines, in the order run (\`ops\` are deliveries, CPU in seconds over the window):"
    echo
    echo '```text'
    printf '%s' "$RAW"
    echo '```'
} >"$OUT"
cat "$OUT"
