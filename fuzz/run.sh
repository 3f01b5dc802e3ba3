#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 15: the smoke run in `make test`;
# `make fuzz` passes 600), after replaying the kept regression inputs. Prints executions
# per target. Corpora live in fuzz/corpus/ (git-ignored) and grow across runs.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-15}
TARGETS=(frame_decode frame_roundtrip frame_split server_handshake client_response url connection_ops deflate_receive)
cargo +nightly fuzz build
for t in "${TARGETS[@]}"; do
  if [ -d "regressions/$t" ]; then
    cargo +nightly fuzz run "$t" regressions/"$t"/* -- -runs=1 >/dev/null 2>&1 ||
      { echo "fuzz: regression input for $t fails again"; exit 1; }
  fi
  mkdir -p "corpus/$t"
  log=$(mktemp)
  if ! cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -40 "$log"; echo "fuzz: $t found a failure (see fuzz/artifacts/$t)"; exit 1
  fi
  echo "fuzz: $t: $(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)s"
  rm -f "$log"
done
