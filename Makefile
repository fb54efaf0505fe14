# The two commands: `make run` serves the demo at http://127.0.0.1:5000, `make test` runs the suite.
PYTHON ?= python3
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

run: $(STAMP)
	SMSCRM_ENV=$${SMSCRM_ENV:-development} $(BIN)/smscrm db upgrade
	SMSCRM_ENV=$${SMSCRM_ENV:-development} $(BIN)/smscrm demo
	SMSCRM_ENV=$${SMSCRM_ENV:-development} $(BIN)/smscrm serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance/*.db* .pytest_cache
