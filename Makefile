# Switchyard: the two commands of the quick start are `make run` and `make test`.
# Every target installs what it needs first (idempotently: a tool already present at the right
# version is skipped), so both work on a fresh Debian machine with rustup.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080
# wasm-pack finds wasm-bindgen and geckodriver on PATH; --mode no-install fails fast instead
# of downloading anything.
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run test tools check test-rust nostd miri wasm test-wasm e2e fuzz-smoke fuzz autobahn \
        bench bench-smoke soak clean

## run: build the demo's wasm package and the server, and start it on $(LISTEN)
run:
	scripts/tools.sh wasm
	$(MAKE) wasm
	$(CARGO) build --release -p switchyard-server --bin switchyard
	exec target/release/switchyard --listen $(LISTEN)

## test: install every tool the tests need, then run every test and check
test: tools check test-rust nostd miri test-wasm e2e fuzz-smoke autobahn bench-smoke
	@echo "make test: every test and check passed"

tools:
	scripts/tools.sh all

check:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@# Each feature alone compiles (a library links nothing: checking is enough).
	$(CARGO) check -p switchyard --no-default-features --features client
	$(CARGO) check -p switchyard --no-default-features --features server
	$(CARGO) check -p switchyard --no-default-features --features tls
	$(CARGO) check -p switchyard --no-default-features --features server,http2
	$(CARGO) check -p switchyard --no-default-features --features proxy
	$(CARGO) clippy -p switchyard --all-targets --features tls,webpki-roots,http2,proxy -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace
	@# A library user's default build holds no CLI, logging, JSON, TLS or HTTP/2 crates.
	tree=$$($(CARGO) tree -p switchyard -e normal --prefix none); \
	  ! grep -E '^(clap|tracing-subscriber|serde_json|rustls|ring|h2) ' <<< "$$tree"
	$(CARGO) clippy -p switchyard-wasm --all-targets --target wasm32-unknown-unknown -- -D warnings

## test-rust: unit, integration, interop, hostile-input and load (1,000 connections) tests;
## the library's with every feature named (its tests that need a feature are skipped without
## a word when it is off, so they must not depend on what the server happens to enable)
test-rust: wasm
	$(CARGO) test --workspace --exclude switchyard
	$(CARGO) test -p switchyard --all-features

## nostd: the core builds with no std at all (wasm32v1-none), with and without alloc
nostd:
	RUSTFLAGS="-D warnings" $(CARGO) build -p switchyard-core --no-default-features --target wasm32v1-none
	RUSTFLAGS="-D warnings" $(CARGO) build -p switchyard-core --no-default-features --features alloc --target wasm32v1-none

## miri: the crate's one `unsafe` (masking's AVX2 path, core/src/frame/mask.rs) under Miri,
## with AVX2 enabled (the wide path is taken) and without (Miri rejects the call if the
## run-time check ever let it through); the handshake tests of both roles, whose heads
## httparse parses into uninitialised header slots (its `unsafe`, our call); and the library's
## `net` sockets over real loopback TCP (isolation off, for the sockets), whose reads fill
## Tokio's buffer past what it knows is initialised and whose registration with the reactor
## is `unsafe`: the tests Miri can run in seconds (it has no `SO_LINGER`; megabytes take it
## minutes)
miri:
	scripts/tools.sh miri
	RUSTFLAGS="-C target-feature=+avx2" $(CARGO) +nightly miri test -p switchyard-core --features std --lib frame::mask
	$(CARGO) +nightly miri test -p switchyard-core --features std --lib frame::mask
	$(CARGO) +nightly miri test -p switchyard-core --features std --test handshake
	MIRIFLAGS=-Zmiri-disable-isolation $(CARGO) +nightly miri test -p switchyard --test net -- \
	  a_read_that_fills a_short_read_waits the_listener_accepts

## wasm: the demo's wasm package in www/pkg (git-ignored); built before the server, which
## embeds www/ at compile time
wasm:
	wasm-pack build wasm --target web --out-dir ../www/pkg --mode no-install

## test-wasm: the bindings' tests in headless Chrome and Firefox
test-wasm:
	CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --firefox --mode no-install wasm

## e2e: the demo page in headless Chromium and Firefox against the real server
e2e: wasm
	$(CARGO) build -p switchyard-server --bin switchyard
	@# The files, not the directory: Node 21 and later read a directory argument as a glob
	@# that matches only itself.
	node --test e2e/*.test.mjs

## fuzz-smoke: replay kept crashes, then every fuzz target for 15 s
fuzz-smoke:
	fuzz/run.sh 15

## fuzz: every fuzz target for FUZZ_SECONDS (default 10 minutes) each
FUZZ_SECONDS ?= 600
fuzz:
	scripts/tools.sh fuzz
	fuzz/run.sh $(FUZZ_SECONDS)

## autobahn: the whole Autobahn|Testsuite, strict, against our server and our client
autobahn:
	autobahn/install.sh
	autobahn/run.sh

## bench: the load benchmark (bench/README.md): the library, the binary and the plain TCP floor
## against five peers, then callgrind's instructions per echo; writes bench/results.md and the
## chart bench/results.svg; then permessage-deflate's CPU, memory and ratio against Node ws and
## Python websockets (bench/deflate.sh → bench/deflate.md); then /chat rooms on one node, one
## node on Redis and three nodes on one Redis (bench/chat.sh → bench/chat.md); then wss://
## against tokio-tungstenite over the same rustls provider, and WebSockets over HTTP/2 against our own wss:// HTTP/1.1
## (bench/tls.sh → bench/tls.md)
## (a failed run is recorded in results.raw and reported, and fails the target at the end)
bench:
	scripts/tools.sh peers
	scripts/tools.sh redis
	status=0; bench/run.sh || status=$$?; \
	bench/callgrind.sh || status=$$?; \
	(cd bench && target/release/report --svg results.svg --criterion ../target/criterion \
		results.raw callgrind.raw >results.md); \
	echo "wrote bench/results.md and bench/results.svg"; \
	bench/deflate.sh || status=$$?; \
	bench/chat.sh || status=$$?; \
	bench/tls.sh || status=$$?; exit $$status

## bench-smoke: the library, the binary and the floor only (the peers are not built), a few
## short cells and 100 idle connections; fails if any server answered wrongly
bench-smoke:
	bench/run.sh --smoke

## soak: the load and chaos test at 10,000 connections
soak:
	SWITCHYARD_LOAD_CONNS=10000 $(CARGO) test --release -p switchyard-server --test load -- --nocapture

clean:
	$(CARGO) clean
