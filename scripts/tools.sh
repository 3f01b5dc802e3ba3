#!/usr/bin/env bash
# Installs the tools the build and tests need, idempotently: each step checks first and skips
# what is already there at the right version.
# Usage: scripts/tools.sh [rust|wasm|browsers|e2e|fuzz|miri|autobahn|peers|redis|proxies|all]
#   rust      rustfmt, clippy, the wasm targets
#   wasm      rust + wasm-bindgen-cli (the version Cargo.lock pins) + wasm-pack: builds www/pkg
#   browsers  Chromium, chromedriver, Firefox ESR, fonts (apt) + geckodriver: wasm browser tests
#   e2e       playwright-core and selenium-webdriver into e2e/node_modules (never downloads a
#             browser or a driver)
#   fuzz      a nightly toolchain + cargo-fuzz
#   miri      a nightly toolchain + its miri and rust-src components (the SIMD masking check)
#   autobahn  the Autobahn|Testsuite (Python 2.7 + wstest, from PyPI and Debian only)
#   peers     independent peers for the interop tests: Python websockets and h2 (an RFC 8441
#             client) in a venv under $PEERS_PREFIX, default /opt/switchyard-peers, and Node's
#             ws (npm, into switchyard/tests/peers/node_modules)
#   redis     redis-server (Debian): the chat scale-out tests start their own (no service)
#   proxies   tinyproxy (HTTP CONNECT) and dante-server (SOCKS5), Debian, plus tmux: the proxy
#             and `switchyard connect` tests start their own on loopback (no service)
#   all       everything above
# Runs non-interactively (CI has no stdin). The cargo builds are long (~10 CPU-min each) and
# run under `nice` so that they share the machine politely.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[tools] $*"; }

# Pinned tool versions. wasm-bindgen-cli is not listed: it must equal the `wasm-bindgen` in
# Cargo.lock, so it is read from there.
WASM_PACK_VERSION=0.15.1
CARGO_FUZZ_VERSION=0.13.2
GECKODRIVER_VERSION=0.37.1
NODE_MIN_MAJOR=20 # playwright-core's `engines`
PY_WEBSOCKETS_VERSION=17.4
PEERS_PREFIX=${PEERS_PREFIX:-/opt/switchyard-peers}
PY_H2_VERSION=4.4.1

export PATH="$HOME/.cargo/bin:$PATH"

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

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

# The version of a crate as Cargo.lock resolves it (first match).
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# cargo_tool <crate> <binary> <version> [--locked]: `cargo install` unless `<binary> --version`
# already reports exactly <version>.
cargo_tool() {
  local crate=$1 bin=$2 version=$3; shift 3
  if [[ -z "$version" ]]; then say "no version for $crate"; exit 1; fi
  local have=""
  # Captured whole, not piped into `grep -q`: with pipefail, grep exiting at the first match
  # would SIGPIPE a tool that prints more (geckodriver does) and fail the check.
  if command -v "$bin" >/dev/null; then have=$("$bin" --version 2>/dev/null || true); fi
  if grep -qw "$version" <<<"$have"; then
    say "SKIP $crate $version"; return
  fi
  say "installing $crate $version (a long source build)"
  local start=$SECONDS
  nice -n 10 cargo install "$crate" --version "$version" --force "$@"
  say "installed $crate $version in $((SECONDS - start)) s"
}

ensure_wasm_tools() {
  # Not --locked: wasm-bindgen-cli's lockfile pins a crate version the registry no longer has.
  cargo_tool wasm-bindgen-cli wasm-bindgen "$(locked_version wasm-bindgen)"
  cargo_tool wasm-pack wasm-pack "$WASM_PACK_VERSION" --locked
}

apt_packages() {
  local missing=()
  for p in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *"ok installed" ]]; then
      say "SKIP apt $p"
    else
      missing+=("$p")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  say "apt installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    --no-install-recommends "${missing[@]}"
}

ensure_browsers() {
  # libnss3-tools: certutil, to trust the test CA in a fresh NSS profile (Chromium, Firefox).
  apt_packages chromium chromium-driver firefox-esr fonts-dejavu-core libnss3-tools
  # Debian bookworm has no geckodriver, and its npm package downloads from GitHub.
  cargo_tool geckodriver geckodriver "$GECKODRIVER_VERSION" --locked
}

ensure_e2e() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    say "node and npm (>= $NODE_MIN_MAJOR) are needed for the browser end-to-end test"; exit 1
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if (( major < NODE_MIN_MAJOR )); then
    say "node $(node --version) is too old: playwright-core needs >= $NODE_MIN_MAJOR"; exit 1
  fi
  # Every dependency at the version e2e/package.json pins (playwright-core, selenium-webdriver).
  local want have
  want=$(node -p 'Object.entries(require("./e2e/package.json").dependencies).map(([n, v]) => n + "@" + v).join(" ")')
  have=$(node -p 'Object.keys(require("./e2e/package.json").dependencies).map((n) => { try { return n + "@" + require("./e2e/node_modules/" + n + "/package.json").version } catch { return "" } }).join(" ")')
  if [[ "$have" == "$want" ]]; then say "SKIP $want"; return; fi
  say "installing $want into e2e/"
  # playwright-core ships no browser; the variable makes sure nothing tries to fetch one.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix e2e --no-audit --no-fund
}

ensure_fuzz() {
  ensure_nightly
  cargo_tool cargo-fuzz cargo-fuzz "$CARGO_FUZZ_VERSION" --locked
}

ensure_nightly() {
  if grep -q '^nightly' <<<"$(rustup toolchain list)"; then
    say "SKIP nightly toolchain"
  else
    rustup toolchain install nightly --profile minimal
  fi
}

ensure_miri() {
  ensure_nightly
  local have
  have=$(rustup +nightly component list --installed)
  for c in miri rust-src; do
    if grep -q "^$c" <<<"$have"; then say "SKIP nightly $c"; else rustup component add --toolchain nightly "$c"; fi
  done
}

ensure_redis() {
  apt_packages redis-server
}

ensure_autobahn() {
  autobahn/install.sh
}

ensure_peers() {
  local py=$PEERS_PREFIX/venv/bin/python have
  have=$("$py" -c 'import websockets, h2; print(websockets.__version__, h2.__version__)' 2>/dev/null || true)
  if [[ "$have" == "$PY_WEBSOCKETS_VERSION $PY_H2_VERSION" ]]; then
    say "SKIP Python websockets and h2 ($have)"
  else
    say "installing Python websockets $PY_WEBSOCKETS_VERSION and h2 $PY_H2_VERSION into $PEERS_PREFIX/venv"
    # Debian's python3 makes no venv without python3-venv.
    apt_packages python3-venv
    if [[ ! -d $PEERS_PREFIX ]]; then
      # Made here, and so this user's: the venv goes in without root.
      as_root mkdir -p "$PEERS_PREFIX"
      as_root chown "$(id -u):$(id -g)" "$PEERS_PREFIX"
    fi
    python3 -m venv "$PEERS_PREFIX/venv"
    "$py" -m pip install -q --disable-pip-version-check \
      "websockets==$PY_WEBSOCKETS_VERSION" "h2==$PY_H2_VERSION"
  fi
  local want
  want=$(node -p 'require("./switchyard/tests/peers/package.json").dependencies.ws')
  have=$(node -p 'try { require("./switchyard/tests/peers/node_modules/ws/package.json").version } catch { "" }')
  if [[ "$have" == "$want" ]]; then say "SKIP ws $want"; return; fi
  say "installing ws $want into switchyard/tests/peers/"
  npm ci --prefix switchyard/tests/peers --no-audit --no-fund
}

ensure_proxies() {
  apt_packages tinyproxy dante-server tmux
}

case "${1:-all}" in
  rust) ensure_rust ;;
  wasm) ensure_rust; ensure_wasm_tools ;;
  browsers) ensure_browsers ;;
  e2e) ensure_e2e ;;
  fuzz) ensure_fuzz ;;
  miri) ensure_miri ;;
  autobahn) ensure_autobahn ;;
  peers) ensure_peers ;;
  redis) ensure_redis ;;
  proxies) ensure_proxies ;;
  all) ensure_rust; ensure_browsers; ensure_e2e; ensure_autobahn; ensure_peers; ensure_redis; ensure_proxies; ensure_fuzz; ensure_miri; ensure_wasm_tools ;;
  *) echo "usage: $0 [rust|wasm|browsers|e2e|fuzz|autobahn|peers|redis|proxies|all]"; exit 2 ;;
esac
