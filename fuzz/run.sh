#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 15: the smoke run in `make test`;
# `make fuzz` passes 600), after replaying the kept regression inputs. Prints executions
# per target. Corpora live in fuzz/corpus/ (git-ignored) and grow across runs.
# libFuzzer runs one thread per target, so as many targets run at once as there are cores.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-15}
JOBS=$(nproc)
TARGETS=(frame_decode frame_roundtrip frame_split server_handshake client_response url connection_ops deflate_receive)
cargo +nightly fuzz build
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
for t in "${TARGETS[@]}"; do
  if [ -d "regressions/$t" ]; then
    cargo +nightly fuzz run "$t" regressions/"$t"/* -- -runs=1 -timeout=10 >"$LOGS/$t.replay" 2>&1 ||
      { tail -40 "$LOGS/$t.replay"; echo "fuzz: regression input for $t fails again"; exit 1; }
  fi
done
status=0
# run_batch TARGET...: runs the targets at once, each for SECONDS_EACH; reports each.
run_batch() {
  local i t pids=()
  for t in "$@"; do
    mkdir -p "corpus/$t"
    # -timeout: an input that takes 10 s is a hang to report, not one to wait 20 minutes for.
    cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
      -timeout=10 >"$LOGS/$t" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    t=${@:i+1:1}
    if wait "${pids[$i]}"; then
      echo "fuzz: $t: $(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$LOGS/$t" | tail -1)s"
    else
      tail -40 "$LOGS/$t"; echo "fuzz: $t found a failure (see fuzz/artifacts/$t)"; status=1
    fi
  done
}
for ((i = 0; i < ${#TARGETS[@]}; i += JOBS)); do
  run_batch "${TARGETS[@]:i:JOBS}"
done
exit "$status"
