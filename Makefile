# smss — build, test, install.
PREFIX  ?= /usr/local
DESTDIR ?=
CARGO   ?= cargo

# Where `make install` puts things. Configuration, init script, cron entry
# and logrotate file always go under /etc (the binary reads
# /etc/smss/smss.conf); the rest follows PREFIX. DESTDIR is prepended to all.
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/smss
DOCDIR  ?= $(PREFIX)/share/doc/smss
# systemd reads /usr/local/lib/systemd/system as well as /lib/systemd/system.
UNITDIR ?= $(PREFIX)/lib/systemd/system
ETC      = $(DESTDIR)/etc
# A binary to install instead of building one with `cargo build --release`.
BIN     ?=

.PHONY: all build release test test-galera check flaky demo bench fuzz client-only clean install uninstall install-user

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

## A real 3-node MariaDB Galera cluster on loopback (Debian's galera-4,
## mariadb-server, rsync; run as root) under three serves, one node and one
## serve killed mid-run: tests/galera.rs, about 70 s, so not in `make test`.
test-galera:
	if command -v cargo-nextest >/dev/null 2>&1; then \
		$(CARGO) nextest run --test integration --run-ignored only -E 'test(/^galera::/)'; \
	else \
		$(CARGO) test --test integration galera:: -- --ignored; \
	fi

check:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --no-default-features --all-targets -- -D warnings

## The timing-exposed tests (browser, cluster) FLAKY_RUNS times in a row
## with no retry: prints "N passed, M failed"; anything failed is a bug.
FLAKY_RUNS ?= 20
flaky:
	FLAKY_RUNS=$(FLAKY_RUNS) bash scripts/flaky.sh

## The server on embedded defaults with a simulated modem, one request sent.
demo: build
	sh scripts/demo.sh

## Benchmarks against the real serve and the pty modem simulator, SQLite and
## MariaDB (figures printed, nothing asserted; results in BENCHMARKS.md).
## Sized by environment variables, e.g. BENCH_N=2000 BENCH_ONLY=ingest,latency
## BENCH_DB=sqlite make bench (the list is at the top of examples/bench.rs).
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

SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

## Installs smss (no root needed with DESTDIR). An existing
## /etc/smss/smss.conf is kept; the new sample goes next to it as
## smss.conf.dist. Then, as root: make install-user (see README.md).
install:
	@set -e; bin="$(BIN)"; \
	if [ -z "$$bin" ]; then \
		bin=target/release/smss; \
		if command -v $(CARGO) >/dev/null 2>&1; then $(CARGO) build --release; \
		elif [ ! -x "$$bin" ]; then echo "install: no cargo here; build first: make release" >&2; exit 1; fi; \
	fi; \
	install -d "$(DESTDIR)$(BINDIR)" "$(ETC)/smss" "$(ETC)/init.d" "$(ETC)/cron.d" \
		"$(ETC)/logrotate.d" "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(DATADIR)/sql/sqlite" \
		"$(DESTDIR)$(DATADIR)/sql/mysql" "$(DESTDIR)$(DOCDIR)"; \
	install -m 755 "$$bin" "$(DESTDIR)$(BINDIR)/smss"; \
	if [ -e "$(ETC)/smss/smss.conf" ]; then \
		install -m 640 etc/smss.conf "$(ETC)/smss/smss.conf.dist"; \
		echo "kept $(ETC)/smss/smss.conf; the new sample is $(ETC)/smss/smss.conf.dist"; \
	else \
		install -m 640 etc/smss.conf "$(ETC)/smss/smss.conf"; \
	fi; \
	$(SUBST) init/smss.init > "$(ETC)/init.d/smss"; chmod 755 "$(ETC)/init.d/smss"; \
	$(SUBST) init/smss.service > "$(DESTDIR)$(UNITDIR)/smss.service"; \
	chmod 644 "$(DESTDIR)$(UNITDIR)/smss.service"; \
	$(SUBST) init/smss.cron > "$(ETC)/cron.d/smss"; chmod 644 "$(ETC)/cron.d/smss"; \
	install -m 644 init/smss.logrotate "$(ETC)/logrotate.d/smss"; \
	install -m 644 sql/sqlite/*.sql "$(DESTDIR)$(DATADIR)/sql/sqlite/"; \
	install -m 644 sql/mysql/*.sql "$(DESTDIR)$(DATADIR)/sql/mysql/"; \
	install -m 644 README.md "$(DESTDIR)$(DOCDIR)/README.md"; \
	echo "installed smss in $(DESTDIR)$(BINDIR); next, as root: make install-user, edit /etc/smss/smss.conf, service smss start"

## Removes what install put in place. /etc/smss/smss.conf stays when it
## differs from the sample (your settings); the database, the logs and the
## smss user stay too.
uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/smss" "$(ETC)/init.d/smss" "$(ETC)/cron.d/smss" \
		"$(ETC)/logrotate.d/smss" "$(DESTDIR)$(UNITDIR)/smss.service" \
		"$(ETC)/smss/smss.conf.dist" "$(DESTDIR)$(DOCDIR)/README.md"
	rm -f "$(DESTDIR)$(DATADIR)"/sql/sqlite/*.sql "$(DESTDIR)$(DATADIR)"/sql/mysql/*.sql
	-rmdir "$(DESTDIR)$(DATADIR)/sql/sqlite" "$(DESTDIR)$(DATADIR)/sql/mysql" \
		"$(DESTDIR)$(DATADIR)/sql" "$(DESTDIR)$(DATADIR)" "$(DESTDIR)$(DOCDIR)" 2>/dev/null
	@if cmp -s etc/smss.conf "$(ETC)/smss/smss.conf"; then \
		rm -f "$(ETC)/smss/smss.conf"; rmdir "$(ETC)/smss" 2>/dev/null || true; \
	elif [ -e "$(ETC)/smss/smss.conf" ]; then \
		echo "kept $(ETC)/smss/smss.conf (edited); remove it yourself if you wish"; \
	fi
	@echo "kept /var/lib/smss, /var/log/smss and the smss user, if any"

## As root, once, after install: the smss system user (group smss, also in
## dialout for the serial port), its directories, and the config's group.
install-user:
	@test "$$(id -u)" = 0 || { echo "install-user: run as root" >&2; exit 1; }
	getent group smss >/dev/null || groupadd --system smss
	getent passwd smss >/dev/null || useradd --system --gid smss --groups dialout \
		--home-dir /var/lib/smss --no-create-home --shell /usr/sbin/nologin \
		--comment "smss SMS server" smss
	usermod -a -G dialout smss
	install -d -o smss -g smss -m 750 /var/lib/smss /var/log/smss
	chgrp smss /etc/smss/smss.conf && chmod 640 /etc/smss/smss.conf
	@echo "user smss ready; now edit /etc/smss/smss.conf, then: service smss start (or systemctl enable --now smss)"
