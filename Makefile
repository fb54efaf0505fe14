# The two commands: `make run` serves the demo at http://$(HOST):$(PORT) (127.0.0.1:5000 unless given, e.g.
# `make run PORT=8000 HOST=0.0.0.0`), `make test` runs the suite.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 5000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum setup.cfg | cut -d' ' -f1)

.PHONY: run test install bench clean

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("smscrm needs Python 3.11 or newer, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# Development settings with a secret of its own, written once: every `smscrm` command run here reads them.
.env:
	printf 'SMSCRM_ENV=development\nSMSCRM_SECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))')" > $@

run: $(STAMP) .env
	SMSCRM_ENV=$${SMSCRM_ENV:-development} $(BIN)/smscrm db upgrade
	SMSCRM_ENV=$${SMSCRM_ENV:-development} $(BIN)/smscrm demo
	SMSCRM_ENV=$${SMSCRM_ENV:-development} $(BIN)/smscrm serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance/*.db* .pytest_cache
