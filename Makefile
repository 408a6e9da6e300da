# Quick start: `make demo` builds the bundled sample and serves it (until
# Ctrl-C); `make test` runs the test suite. Both install what they need into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
# The 1.0 line of Datasette, tested beside the stable one.
DATASETTE_1 ?= datasette==1.0a41
PORT ?= 8001

.PHONY: install install-demo demo test test-datasette-1 browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The package alone: what `make demo` needs.
install-demo: $(BIN)/python
	$(BIN)/pip install --quiet -e . $(EXTRA_INSTALL)

# The package and the test tools.
install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]' $(EXTRA_INSTALL)

demo.db: install-demo
	rm -f demo.db
	$(BIN)/datasette-tei build demo.db --demo

# No -m or -c: the plugin supplies the descriptions, facets and settings.
demo: demo.db
	@echo "Serving demo.db on http://127.0.0.1:$(PORT)/ until Ctrl-C"
	$(BIN)/datasette serve demo.db --port $(PORT)

# Debian's Chromium for the browser test; never a browser download. Without
# root it says how to get it, and the browser test is skipped (CI runs as
# root and sets TEI_REQUIRE_BROWSER=1, so there it cannot be skipped).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "Chromium is not installed, and installing it needs root: the browser test will be skipped."; \
	  echo "To run it: sudo apt-get install chromium (Debian, Ubuntu), then make test again."; fi

test: install browser
	$(BIN)/python -m pytest -q

# The same suite against the newest Datasette 1.0 alpha, in its own venv.
test-datasette-1:
	$(MAKE) test VENV=.venv-datasette-1 EXTRA_INSTALL='$(DATASETTE_1)'

clean:
	rm -rf $(VENV) .venv-datasette-1 demo.db *.egg-info
