# Switchyard: the two commands of the quick start are `make run` and `make test`.
# Every target installs what it needs first (idempotently: a tool already present at the right
# version is skipped), so both work on a fresh Debian machine with rustup.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
LISTEN ?= 127.0.0.1:8080

.PHONY: run test tools check test-rust nostd bench fuzz soak clean

## run: build the server (and the demo's wasm package) and start it on $(LISTEN)
run:
	scripts/tools.sh rust
	$(CARGO) build --release -p switchyard-server --bin switchyard
	exec target/release/switchyard --listen $(LISTEN)

## test: install every tool the tests need, then run every test and check
test: tools check test-rust nostd
	@echo "make test: all checks passed"

tools:
	scripts/tools.sh all

check:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

## nostd: the core builds with no std at all, with and without alloc
nostd:
	$(CARGO) build -p switchyard-core --no-default-features --target wasm32v1-none
	$(CARGO) build -p switchyard-core --no-default-features --features alloc --target wasm32v1-none
	$(CARGO) build -p switchyard-core --no-default-features --features alloc

clean:
	$(CARGO) clean
