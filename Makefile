# Corridor: `make run` runs the pipeline on this machine, `make test` runs the tests.
# Only Python 3.11 or 3.12 and make are assumed (pgserver ships no wheels for 3.13).

PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3,11) <= sys.version_info[:2] <= (3,12))' && echo $$p && break; done)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run up test venv docs gx-sync simulator clean

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Corridor needs Python 3.11 or 3.12 (pgserver has no 3.13 wheels)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(VENV)/bin/corridor run

up: venv
	$(VENV)/bin/corridor up

test: venv
	$(VENV)/bin/python -m pytest

docs: venv
	$(VENV)/bin/corridor docs

gx-sync: venv
	$(VENV)/bin/corridor gx sync

simulator: venv
	$(VENV)/bin/corridor simulator

clean:
	rm -rf .corridor published
