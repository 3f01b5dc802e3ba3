#!/usr/bin/env bash
# Installs the tools the build and tests need, idempotently: each step checks first and skips
# what is already there at the right version. Usage: scripts/tools.sh [rust|all]
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[tools] $*"; }

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    say "cargo not found: install rustup first (https://rustup.rs)"; exit 1
  fi
  local have
  have=$(rustup component list --installed 2>/dev/null || true)
  for c in rustfmt clippy; do
    if grep -q "^$c" <<<"$have"; then say "SKIP $c"; else rustup component add "$c"; fi
  done
  have=$(rustup target list --installed)
  for t in wasm32v1-none wasm32-unknown-unknown; do
    if grep -qx "$t" <<<"$have"; then say "SKIP target $t"; else rustup target add "$t"; fi
  done
}

case "${1:-all}" in
  rust) ensure_rust ;;
  all) ensure_rust ;;
  *) echo "usage: $0 [rust|all]"; exit 2 ;;
esac
