# The two commands: `make run` and `make test`. Each creates .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
DATABASE ?= var/gateway.db
CONFIG ?= identity-gateway.toml
PLUGINS := $(wildcard plugins/*/pyproject.toml)
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean

$(STAMP): pyproject.toml $(PLUGINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]' $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $(STAMP)

install: $(STAMP)

# DATABASE is a SQLite file (its folder is created) or a postgresql:// URL.
run: install
	@$(if $(findstring ://,$(DATABASE)),true,mkdir -p $(dir $(DATABASE)))
	$(BIN)/identity-gateway serve --migrate --host 127.0.0.1 --port $(PORT) --database '$(DATABASE)' --config $(CONFIG)

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/*.db var/*.db-wal var/*.db-shm
