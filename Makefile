# The two commands: `make run` and `make test`. Each creates .venv when needed.
# docs/development.md says what every target does and how long it takes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
DATABASE ?= var/gateway.db
CONFIG ?= identity-gateway.toml
PLUGINS := $(wildcard plugins/*/pyproject.toml)
EDITABLE := -e '.[test]' $(foreach p,$(PLUGINS),-e $(dir $(p)))
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check

CHROMIUM ?= /usr/bin/chromium
# axe-core, the accessibility engine the console's browser tests run on every page: pinned,
# from npm, into .venv/axe (tests/console/test_every_page.py reads it there).
AXE_VERSION := 4.14.1
AXE_STAMP := $(VENV)/axe/.installed-$(AXE_VERSION)

.PHONY: run test test-fast check install bench soak fuzz constraints clean browser \
	screenshots bench-console peers

# The exact versions tested (constraints.txt), the project and its plugins as editables.
$(STAMP): pyproject.toml $(PLUGINS) constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -c constraints.txt $(EDITABLE)
	touch $(STAMP)

install: $(STAMP) $(AXE_STAMP)

# Without npm or the registry the accessibility test skips with one line (like Chromium).
$(AXE_STAMP): | $(STAMP)
	@if ! command -v npm >/dev/null; then \
		echo "npm is missing: the console's accessibility test will skip (make browser installs it)"; \
	elif npm install --prefix $(VENV)/axe --no-save --no-audit --no-fund --loglevel=error \
			axe-core@$(AXE_VERSION) >/dev/null; then touch $@; \
	else echo "axe-core could not be installed: the console's accessibility test will skip"; fi

# DATABASE is a SQLite file (its folder is created) or a postgresql:// URL.
run: install
	@$(if $(findstring ://,$(DATABASE)),true,mkdir -p $(dir $(DATABASE)))
	$(BIN)/identity-gateway serve --migrate --host 127.0.0.1 --port $(PORT) --database '$(DATABASE)' --config $(CONFIG)

# Lint, import order and types: the gates CI enforces (make test runs them first).
check: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: check browser
	$(BIN)/python -m pytest -q

# The console's browser tests drive Debian's Chromium (Playwright, a pinned test dependency,
# comes with `install`) and run axe-core (npm). Chromium and npm are installed with apt-get
# when missing and apt is usable; otherwise those tests skip with one line
# (REQUIRE_BROWSER=1 makes that a failure).
browser:
	@test -x $(CHROMIUM) || ! command -v apt-get >/dev/null || \
		{ apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } || \
		  echo "chromium could not be installed: the console's browser tests will skip"; }
	@command -v npm >/dev/null || ! command -v apt-get >/dev/null || \
		{ apt-get install -y -q npm >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q npm >/dev/null 2>&1; } || \
		  echo "npm could not be installed: the console's accessibility test will skip"; }
	@$(MAKE) -s --no-print-directory $(AXE_STAMP)

# The screenshots docs/console.md shows, taken by the console's browser tests.
screenshots: install browser
	CONSOLE_SCREENSHOTS=docs/console REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/console

# Everything but the PostgreSQL cases (no server needed).
test-fast: install
	$(BIN)/python -m pytest -q -k "not postgres"

# The SCIM servers make bench runs beside the gateway, pinned, in a venv and an npm prefix of
# their own under .venv/peers: python-scim's scim2-server (bench/peers/requirements.txt),
# BoxyHQ's directory sync (in memory and on PostgreSQL: its pg driver comes with it) and
# SCIMMY with scimmy-routers and express (bench/peers/package-lock.json, with npm ci
# --ignore-scripts: the scripts build native modules for database engines the bench does not
# use); without npm the Node peers are left out.
# BENCH_PEERS=0 installs and runs none. docs/performance.md says what is measured.
PEERS := $(VENV)/peers
PEERS_PY := $(PEERS)/py/.installed
PEERS_NPM := $(PEERS)/npm/.installed

$(PEERS_PY): bench/peers/requirements.txt
	test -x $(PEERS)/py/bin/python || $(PYTHON) -m venv $(PEERS)/py
	$(PEERS)/py/bin/python -m pip install -q --disable-pip-version-check \
		-r bench/peers/requirements.txt
	touch $@

$(PEERS_NPM): bench/peers/package.json bench/peers/package-lock.json
	@if ! command -v npm >/dev/null; then \
		echo "npm is missing: make bench leaves BoxyHQ and SCIMMY out"; \
	else mkdir -p $(PEERS)/npm && cp bench/peers/package.json bench/peers/package-lock.json \
			$(PEERS)/npm/ && \
		npm ci --prefix $(PEERS)/npm --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null && \
		touch $@ || echo "BoxyHQ and SCIMMY could not be installed: make bench leaves them out"; fi

peers: $(PEERS_PY) $(PEERS_NPM)

# The gateway beside its peers (req/s and server CPU per request), then the gateway's own
# scenarios; BENCH_SCALE=smoke is a quick run, BENCH_SCALE=large the scale scenarios.
bench: install $(if $(filter 0,$(BENCH_PEERS)),,peers)
	$(BIN)/python -m bench

# Both fuzz suites as in make test but far longer, from a random FUZZ_SEED (printed, to
# replay a run): schemathesis against both OpenAPI documents, FUZZ_EXAMPLES valid and invalid
# requests per operation (default 2000); hypothesis over SCIM and admin bodies, FUZZ_REQUESTS
# requests per store (default 10000), and over the console's pages (0.8 x FUZZ_REQUESTS per
# store). docs/conformance.md keeps the last result.
FUZZ_EXAMPLES ?= 2000
FUZZ_REQUESTS ?= 10000
fuzz: install
	@seed=$${FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "fuzz: $(FUZZ_EXAMPLES) examples per operation, $(FUZZ_REQUESTS) requests per store, FUZZ_SEED=$$seed"; \
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_REQUESTS=$(FUZZ_REQUESTS) FUZZ_SEED=$$seed \
		$(BIN)/python -m pytest -q -rs tests/fuzz

# The console's pages at 10,000 users on SQLite (median and p95 per page; target < 100 ms).
bench-console: install
	$(BIN)/python -m bench.console

# kill -9 rounds under concurrent writes on both stores (docs/deploy.md, "Durability").
ROUNDS ?= 20
soak: install
	$(BIN)/python tests/store/crash.py --rounds $(ROUNDS) --store sqlite,postgres

# Renew constraints.txt: the newest versions pyproject.toml allows, resolved in a
# throwaway environment. Run `make test` after it.
constraints:
	rm -rf $(VENV).constraints
	$(PYTHON) -m venv $(VENV).constraints
	$(VENV).constraints/bin/python -m pip install -q --disable-pip-version-check $(EDITABLE)
	$(VENV).constraints/bin/python -m pip freeze --exclude-editable | grep -v '^#' > constraints.txt
	rm -rf $(VENV).constraints

clean:
	rm -rf $(VENV) var/*.db var/*.db-wal var/*.db-shm
