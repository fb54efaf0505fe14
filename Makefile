# The two commands: `make run` serves the demo at http://$(HOST):$(PORT) (127.0.0.1:5000 unless given, e.g.
# `make run PORT=8000 HOST=0.0.0.0`), `make test` runs the suite.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 5000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum setup.cfg | cut -d' ' -f1)

CATALOGUES := $(wildcard smscrm/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)
# The marks pybabel extracts: _ and gettext (flask_babel), _l (lazy_gettext), ngettext, care_rules.shown.
KEYWORDS := -k _l -k shown

.PHONY: run test install bench clean messages

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("smscrm needs Python 3.11 or newer, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) $(COMPILED)

# Development settings with a secret of its own, written once: every `smscrm` command run here reads them.
.env:
	printf 'SMSCRM_ENV=development\nSMSCRM_SECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))')" > $@

# The merchant pages' catalogues, compiled from the .po files (the .mo files are not committed).
%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

# Extract every marked string into messages.pot, merge it into each language's .po (new strings come in with an
# empty translation, for a person to write), compile, and check that nothing is left untranslated.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(KEYWORDS) --sort-by-file --no-wrap --omit-header -o smscrm/translations/messages.pot .
	$(BIN)/pybabel update -i smscrm/translations/messages.pot -d smscrm/translations --no-wrap --no-fuzzy-matching --ignore-obsolete
	$(MAKE) $(COMPILED)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/web/test_translations.py

run: $(STAMP) $(COMPILED) .env
	SMSCRM_ENV=$${SMSCRM_ENV:-development} $(BIN)/smscrm db upgrade
	SMSCRM_ENV=$${SMSCRM_ENV:-development} $(BIN)/smscrm demo
	SMSCRM_ENV=$${SMSCRM_ENV:-development} $(BIN)/smscrm serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(COMPILED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance/*.db* .pytest_cache $(COMPILED)
