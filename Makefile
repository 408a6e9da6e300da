# Quick start: `make demo` builds the bundled sample and serves it;
# `make test` runs the test suite. Both install what they need into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# The 1.0 line of Datasette, tested beside the stable one.
DATASETTE_1 ?= datasette==1.0a41
PORT ?= 8001

.PHONY: install demo test test-datasette-1 browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]' $(EXTRA_INSTALL)

demo.db: install
	rm -f demo.db
	$(BIN)/datasette-tei build demo.db --demo

demo: demo.db
	$(BIN)/datasette serve demo.db -m metadata.yml --port $(PORT)

# Debian's Chromium for the browser test; never a browser download.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(BIN)/python -m pytest -q

# The same suite against the newest Datasette 1.0 alpha, in its own venv.
test-datasette-1:
	$(MAKE) test VENV=.venv-datasette-1 EXTRA_INSTALL='$(DATASETTE_1)'

clean:
	rm -rf $(VENV) .venv-datasette-1 demo.db *.egg-info
