# smss — build, test, install.
PREFIX  ?= /usr/local
DESTDIR ?=
CARGO   ?= cargo

.PHONY: all build release test check demo bench fuzz client-only clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## The whole test suite (unit + integration against the pty simulator, SQLite
## and MariaDB on 127.0.0.1:3306), plus the std-only client build.
test:
	$(CARGO) build --no-default-features --target-dir target/client-only
	if command -v cargo-nextest >/dev/null 2>&1; then \
		$(CARGO) nextest run --no-fail-fast; \
	else \
		$(CARGO) test --no-fail-fast; \
	fi

check:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## The server on embedded defaults with a simulated modem, one request sent.
demo: build
	sh scripts/demo.sh

## Benchmarks (figures printed, nothing asserted).
bench:
	$(CARGO) build --release
	$(CARGO) run --release --example bench

## Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of the request parser, the
## PDU decoder and the modem line splitter, FUZZ_SECONDS each; installs
## cargo-fuzz when missing. Not part of `test` (too slow for CI). See fuzz/run.sh.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) CARGO=$(CARGO) bash fuzz/run.sh

clean:
	$(CARGO) clean
