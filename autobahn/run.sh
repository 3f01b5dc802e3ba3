#!/usr/bin/env bash
# Autobahn|Testsuite conformance run for Switchyard: tests our SERVER (wstest -m fuzzingclient)
# and our CLIENT (wstest -m fuzzingserver), then gates on the JSON reports with check.py.
#
# Usage: autobahn/run.sh [--quick] [--no-build]
#   (default)    all 517 cases on each side: sections 1-11 in one wstest process, and 12.*
#                and 13.* (permessage-deflate) in two more wstest processes run in parallel;
#                the server side and the client side run at the same time
#   --quick      sections 1-11 only (301 cases per side: exclude-cases 12.*, 13.*)
#   --no-build   do not run cargo; use the binaries already in target/release
# Test hooks (to exercise this script without the Rust binaries):
#   --target-url URL   test the WebSocket server already listening at URL (loopback) instead
#                      of starting target/release/switchyard
#   --client-cmd EXE   the client under test, run as `EXE <base-url> <agent>`
#                      (default: target/release/examples/autobahn_client)
#   --cases LIST       comma-separated case patterns (e.g. '1.*,2.*') replacing the section
#                      selection; one wstest process per side; needs --expect
#   --expect N         expected number of cases per side (default 517, or 301 with --quick)
#   --server-only | --client-only
#
# Needs: autobahn/install.sh done (wstest-loopback under $AUTOBAHN_PREFIX, default
# /opt/switchyard-autobahn), python3, coreutils `timeout`. Listens on 127.0.0.1 only.
# Reports: autobahn/reports/server/index.json and autobahn/reports/client/index.json
# (sections 1-11; in a full run 12.* and 13.* go to .../12/ and .../13/ under each), wstest
# and process logs plus the generated specs in autobahn/reports/logs/.
# Exit status: check.py's; 1 also if any step failed (timeout, crash, non-zero exit).
#
# Command lines used (PORT = free loopback port picked at run time, GROUP = core|deflate12|deflate13):
#   cargo build --release -p switchyard-server --bin switchyard && cargo build --release -p switchyard --features deflate --example autobahn_client
#   target/release/switchyard --listen 127.0.0.1:PORT --max-message-size 20971520
#   wstest-loopback -m fuzzingclient -s autobahn/reports/logs/fuzzingclient-GROUP.json
#       (servers[0].url = ws://127.0.0.1:PORT/echo, outdir autobahn/reports/server[/12|/13])
#   wstest-loopback -m fuzzingserver -s autobahn/reports/logs/fuzzingserver-GROUP.json -u 0
#       (url = ws://127.0.0.1:PORT, outdir autobahn/reports/client[/12|/13])
#   target/release/examples/autobahn_client ws://127.0.0.1:PORT switchyard
#   python3 autobahn/check.py --expect 517|301 --server <index.json...> --client <index.json...>
# each wrapped in `timeout`; background processes are stopped by PID from an EXIT trap.
#
# permessage-deflate (12.*, 13.*), as read in autobahntestsuite 25.10.1
# (site-packages/autobahntestsuite/case/case12_x_x.py; one implementation for both
# sections and both modes):
#   * init(): in fuzzingclient mode wstest OFFERS permessage-deflate in its handshake; in
#     fuzzingserver mode it would ACCEPT a client's offer. Nothing else differs.
#   * onOpen(): `if self.p._perMessageCompress is None:` -- i.e. no extension was negotiated
#     (our server answers without Sec-WebSocket-Extensions / our client offers none) -- it sets
#     behavior = UNIMPLEMENTED and immediately sends Close 1000. No data messages are sent,
#     so each case takes milliseconds instead of 1000 messages with a 60-480 s limit.
#   * behaviorClose is still judged as usual (expectedClose: closed by wstest, code 1000,
#     clean), so it must come out OK: the peer has to answer the Close (and, when we are the
#     server, close the TCP connection first -- otherwise "FAILED BY CLIENT").
#   * Measured here against wstest's own echoserver (which does not accept deflate) and a
#     testee client without the deflate offer: on both sides all 216 cases came out
#     behavior=UNIMPLEMENTED, behaviorClose=OK, in ~2 s wall time (case durations sum < 0.4 s).
#   So while Switchyard has no permessage-deflate, 12.*/13.* are quick; the parallel split
#   only pays off once deflate is implemented (then ~25 min of wstest CPU), and keeps the
#   run bounded by AUTOBAHN_T_DEFLATE either way.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PREFIX=${AUTOBAHN_PREFIX:-/opt/switchyard-autobahn}
WSTEST=${WSTEST_LOOPBACK:-$PREFIX/bin/wstest-loopback}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER_BIN=$TARGET/release/switchyard
CLIENT_BIN=$TARGET/release/examples/autobahn_client
REPORTS=$HERE/reports
LOGS=$REPORTS/logs
AGENT=switchyard                 # agent name in both reports
MAX_MESSAGE_SIZE=20971520        # 20 MiB: section 9 sends messages of up to 16 MiB

# Time limits in seconds; every step runs under `timeout`.
T_BUILD=${AUTOBAHN_T_BUILD:-3600}      # cargo build --release
T_CORE=${AUTOBAHN_T_CORE:-1200}        # sections 1-11, one side
T_DEFLATE=${AUTOBAHN_T_DEFLATE:-2400}  # 12.* or 13.*, one side
T_PORT=30                              # for a freshly started process to accept connections
T_CHECK=120                            # check.py

log()  { echo "[autobahn] $*"; }
die()  { echo "[autobahn] ERROR: $*" >&2; exit 1; }
usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

# ------------------------------------------------------------------ arguments
QUICK=0 BUILD=1 TARGET_URL="" CLIENT_CMD="" CASES="" EXPECT="" RUN_SERVER=1 RUN_CLIENT=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick)       QUICK=1 ;;
    --no-build)    BUILD=0 ;;
    --target-url)  TARGET_URL=${2:?}; shift ;;
    --client-cmd)  CLIENT_CMD=${2:?}; shift ;;
    --cases)       CASES=${2:?}; shift ;;
    --expect)      EXPECT=${2:?}; shift ;;
    --server-only) RUN_CLIENT=0 ;;
    --client-only) RUN_SERVER=0 ;;
    -h|--help)     usage 0 ;;
    *)             echo "unknown argument: $1" >&2; usage 2 >&2 ;;
  esac
  shift
done
case "$TARGET_URL" in ""|ws://127.0.0.1:*|ws://localhost:*|ws://\[::1\]:*) ;;
  *) die "--target-url must be a loopback ws:// URL" ;; esac

# ------------------------------------------------------------------ case groups
# One wstest process per group and side: NAME CASES EXCLUDE SUBDIR TIMEOUT
G_NAME=() G_CASES=() G_EXCL=() G_DIR=() G_T=()
add_group() { G_NAME+=("$1"); G_CASES+=("$2"); G_EXCL+=("$3"); G_DIR+=("$4"); G_T+=("$5"); }
if [ -n "$CASES" ]; then
  [ -n "$EXPECT" ] || die "--cases needs --expect N"
  add_group custom "$CASES" "" "" "$T_CORE"
else
  add_group core "*" "12.*,13.*" "" "$T_CORE"            # sections 1-11: 301 cases
  if [ "$QUICK" = 0 ]; then
    add_group deflate12 "12.*" "" 12 "$T_DEFLATE"          # 90 cases
    add_group deflate13 "13.*" "" 13 "$T_DEFLATE"          # 126 cases
  fi
  [ -n "$EXPECT" ] || { if [ "$QUICK" = 1 ]; then EXPECT=301; else EXPECT=517; fi; }
fi
T_MAX=0; for t in "${G_T[@]}"; do [ "$t" -gt "$T_MAX" ] && T_MAX=$t; done
outdir() { echo "$REPORTS/$1${G_DIR[$2]:+/${G_DIR[$2]}}"; }   # outdir SIDE GROUP_INDEX

# ------------------------------------------------------------------ process helpers
PIDS=()            # background processes we started and have not reaped yet
FAILED_STEPS=()
fail_step() { log "STEP FAILED: $*"; FAILED_STEPS+=("$*"); }

start_bg() {       # start_bg LOGFILE SECONDS CMD... ; sets LAST_PID
  timeout -k 5 "$2" "${@:3}" >"$1" 2>&1 </dev/null &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

reap() {           # reap PID [stop]: (optionally SIGTERM it,) wait for it; sets RC
  local pid=$1 p keep=()
  if [ "${2:-}" = stop ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  RC=0; wait "$pid" 2>/dev/null || RC=$?
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

cleanup() {        # stop (by PID) whatever we started that is still running
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_ports N: N distinct free TCP ports on 127.0.0.1, below the kernel's ephemeral range. A
# port is released before the server binds it; one from the ephemeral range could meanwhile be
# handed to another suite's listener (port 0) or outgoing connection, running in parallel under
# `make test`, and the port would then answer for someone else. Below the range, nothing does.
free_ports() {
  python3 - "$1" <<'EOF'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
socks = []
while len(socks) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(min(10000, low // 2), low)))
        socks.append(s)
    except OSError:
        s.close()
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

wait_port() {      # wait_port PORT PID: until 127.0.0.1:PORT accepts; fail if PID exits
  timeout "$((T_PORT + 5))" python3 - "$1" "$2" "$T_PORT" <<'EOF'
import os, socket, sys, time
port, pid, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("process %d exited before 127.0.0.1:%d accepted connections" % (pid, port))
    time.sleep(0.1)
sys.exit("127.0.0.1:%d did not accept connections within %gs" % (port, limit))
EOF
}

make_spec() {      # make_spec TEMPLATE OUT URL OUTDIR CASES EXCLUDE  (CASES/EXCLUDE: comma lists)
  python3 - "$@" <<'EOF'
import json, sys
template, out, url, outdir, cases, exclude = sys.argv[1:]
with open(template) as f:
    spec = json.load(f)
spec.pop("_comment", None)
if "servers" in spec:          # fuzzingclient: the server under test
    spec["servers"][0]["url"] = url
else:                          # fuzzingserver: where wstest listens
    spec["url"] = url
spec["outdir"] = outdir
spec["cases"] = [c for c in cases.split(",") if c]
spec["exclude-cases"] = [c for c in exclude.split(",") if c]
with open(out, "w") as f:
    json.dump(spec, f, indent=2)
EOF
}

# ------------------------------------------------------------------ preparation
[ -x "$WSTEST" ] || die "$WSTEST not found: run autobahn/install.sh first (or set AUTOBAHN_PREFIX)"
command -v python3 >/dev/null || die "python3 is required"
rm -rf "$REPORTS/server" "$REPORTS/client" "$LOGS"
mkdir -p "$LOGS"
T0=$(date +%s)
log "groups: ${G_NAME[*]}; expecting $EXPECT cases per side; reports in $REPORTS"

NEED_SERVER_BIN=0 NEED_CLIENT_BIN=0
[ "$RUN_SERVER" = 1 ] && [ -z "$TARGET_URL" ] && NEED_SERVER_BIN=1
[ "$RUN_CLIENT" = 1 ] && [ -z "$CLIENT_CMD" ] && NEED_CLIENT_BIN=1
if [ "$BUILD" = 1 ] && [ $((NEED_SERVER_BIN + NEED_CLIENT_BIN)) -gt 0 ]; then
  log "build: cargo build --release -p switchyard-server --bin switchyard && cargo build --release -p switchyard --features deflate --example autobahn_client"
  (cd "$ROOT" && timeout "$T_BUILD" cargo build --release -p switchyard-server --bin switchyard \
     && cd "$ROOT" && timeout "$T_BUILD" cargo build --release -p switchyard --features deflate --example autobahn_client) \
     || die "cargo build failed"
fi
[ "$NEED_SERVER_BIN" = 0 ] || [ -x "$SERVER_BIN" ] || die "$SERVER_BIN missing"
[ "$NEED_CLIENT_BIN" = 0 ] || [ -x "$CLIENT_BIN" ] || die "$CLIENT_BIN missing"

# ------------------------------------------------------------------ server side
if [ "$RUN_SERVER" = 1 ]; then
  SERVER_PID=""
  if [ -n "$TARGET_URL" ]; then
    URL=$TARGET_URL
    log "server side: testing the server already at $URL (--target-url)"
  else
    PORT=$(free_ports 1)
    log "server side: $SERVER_BIN --listen 127.0.0.1:$PORT --max-message-size $MAX_MESSAGE_SIZE"
    start_bg "$LOGS/switchyard-server.log" "$((T_MAX + 2 * T_PORT))" \
      "$SERVER_BIN" --listen "127.0.0.1:$PORT" --max-message-size "$MAX_MESSAGE_SIZE"
    SERVER_PID=$LAST_PID
    wait_port "$PORT" "$SERVER_PID" || die "switchyard did not start (log: $LOGS/switchyard-server.log)"
    URL="ws://127.0.0.1:$PORT/echo"
  fi

  FC_PIDS=()
  for i in "${!G_NAME[@]}"; do
    spec="$LOGS/fuzzingclient-${G_NAME[$i]}.json"
    make_spec "$HERE/fuzzingclient.json" "$spec" "$URL" "$(outdir server "$i")" "${G_CASES[$i]}" "${G_EXCL[$i]}"
    log "server side [${G_NAME[$i]}]: $WSTEST -m fuzzingclient -s $spec (timeout ${G_T[$i]}s)"
    start_bg "$LOGS/fuzzingclient-${G_NAME[$i]}.log" "${G_T[$i]}" "$WSTEST" -m fuzzingclient -s "$spec"
    FC_PIDS+=("$LAST_PID")
  done
fi

# ------------------------------------------------------------------ client side
if [ "$RUN_CLIENT" = 1 ]; then
  CLIENT=${CLIENT_CMD:-$CLIENT_BIN}
  read -r -a PORTS <<<"$(free_ports "${#G_NAME[@]}")"
  FS_PIDS=() CL_PIDS=()
  for i in "${!G_NAME[@]}"; do
    spec="$LOGS/fuzzingserver-${G_NAME[$i]}.json"
    make_spec "$HERE/fuzzingserver.json" "$spec" "ws://127.0.0.1:${PORTS[$i]}" "$(outdir client "$i")" "${G_CASES[$i]}" "${G_EXCL[$i]}"
    log "client side [${G_NAME[$i]}]: $WSTEST -m fuzzingserver -s $spec -u 0"
    start_bg "$LOGS/fuzzingserver-${G_NAME[$i]}.log" "$((G_T[i] + 2 * T_PORT))" "$WSTEST" -m fuzzingserver -s "$spec" -u 0
    FS_PIDS+=("$LAST_PID")
  done
  for i in "${!G_NAME[@]}"; do
    CL_PIDS[i]=""
    if wait_port "${PORTS[$i]}" "${FS_PIDS[$i]}"; then
      log "client side [${G_NAME[$i]}]: $CLIENT ws://127.0.0.1:${PORTS[$i]} $AGENT (timeout ${G_T[$i]}s)"
      start_bg "$LOGS/client-${G_NAME[$i]}.log" "${G_T[$i]}" "$CLIENT" "ws://127.0.0.1:${PORTS[$i]}" "$AGENT"
      CL_PIDS[i]=$LAST_PID
    else
      fail_step "fuzzingserver [${G_NAME[$i]}] did not start; log $LOGS/fuzzingserver-${G_NAME[$i]}.log"
    fi
  done
fi

# ------------------------------------------------------------------ both sides finish
# The two sides ran at the same time: each wstest process is one single-threaded Python
# pipeline, and the deflate groups keep both cores busy only while several run; one side
# after the other left a core idle while each side's last group finished alone.
if [ "$RUN_SERVER" = 1 ]; then
  for i in "${!G_NAME[@]}"; do
    reap "${FC_PIDS[$i]}"
    [ "$RC" = 0 ] || fail_step "fuzzingclient [${G_NAME[$i]}] exit status $RC (124 = timeout); log $LOGS/fuzzingclient-${G_NAME[$i]}.log"
  done
  if [ -n "$SERVER_PID" ]; then
    kill -0 "$SERVER_PID" 2>/dev/null ||
      fail_step "switchyard exited during the run; log $LOGS/switchyard-server.log"
    reap "$SERVER_PID" stop
  fi
  log "server side finished after $(( $(date +%s) - T0 ))s"
fi
if [ "$RUN_CLIENT" = 1 ]; then
  for i in "${!G_NAME[@]}"; do
    if [ -n "${CL_PIDS[$i]}" ]; then
      reap "${CL_PIDS[$i]}"
      [ "$RC" = 0 ] || fail_step "client [${G_NAME[$i]}] exit status $RC (124 = timeout); log $LOGS/client-${G_NAME[$i]}.log"
    fi
    reap "${FS_PIDS[$i]}" stop
  done
  log "client side finished after $(( $(date +%s) - T0 ))s"
fi

# ------------------------------------------------------------------ verdict
CHECK_ARGS=(--expect "$EXPECT")
for side in server client; do
  if { [ "$side" = server ] && [ "$RUN_SERVER" = 1 ]; } || { [ "$side" = client ] && [ "$RUN_CLIENT" = 1 ]; }; then
    CHECK_ARGS+=("--$side")
    for i in "${!G_NAME[@]}"; do CHECK_ARGS+=("$(outdir "$side" "$i")/index.json"); done
  fi
done
log "check: python3 $HERE/check.py ${CHECK_ARGS[*]}"
STATUS=0
timeout "$T_CHECK" python3 "$HERE/check.py" "${CHECK_ARGS[@]}" || STATUS=$?
if [ ${#FAILED_STEPS[@]} -gt 0 ]; then
  log "${#FAILED_STEPS[@]} step(s) failed:"
  for s in "${FAILED_STEPS[@]}"; do log "  - $s"; done
  [ "$STATUS" != 0 ] || STATUS=1
fi
log "total $(( $(date +%s) - T0 ))s; exit status $STATUS"
exit "$STATUS"
