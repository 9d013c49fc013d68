# One entry point for people and CI. `make test` builds its own virtual environment,
# so it works on a fresh machine with nothing installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

.PHONY: venv constraints system-deps slip-font run serve test lint bench soak clean

# Debian packages the tests need besides Python packages: curl for the README walk-through,
# Chromium for the browser tests, a TrueType CJK font for the slip PDF (and the pages).
SYSTEM_PACKAGES := curl chromium fonts-wqy-zenhei
# the TrueType CJK font the PDF slip embeds (adapter/web/slip_pdf.py FONT_PACKAGE)
SLIP_FONT_PACKAGE := fonts-wqy-zenhei

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

## pin what the tests pass with: constraints.txt from the virtual environment
constraints: $(STAMP)
	{ sed -n '1,2p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

## the adapter with its built-in demo (SQLite, simulator, sample data) on 127.0.0.1:8000
run: $(STAMP) slip-font
	$(VENV)/bin/wi-adapter demo

## the slip PDF's font, installed when missing (as root); otherwise say what to install
slip-font:
	@dpkg -s $(SLIP_FONT_PACKAGE) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(SLIP_FONT_PACKAGE); \
	  else echo "note: the PDF slip needs $(SLIP_FONT_PACKAGE): sudo apt-get install $(SLIP_FONT_PACKAGE) (the HTML slip prints without it)"; fi; }

serve: $(STAMP)
	$(VENV)/bin/wi-adapter serve

## what the tests need from Debian, installed when missing (CI and fresh machines run as root)
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; apt-get update -qq && apt-get install -y -qq $$missing; \
	fi

## every test, on SQLite and PostgreSQL
test: $(STAMP) system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy adapter connectors upload_queue
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m benchmarks

## the soak runs (scripts/soak/README.md): kill -9 cycles, then a faulted load; minutes each
SOAK_MINUTES ?= 30
SOAK_DATABASE ?= sqlite
soak: $(STAMP)
	$(PY) -m scripts.soak.crash --minutes $(SOAK_MINUTES) --database $(SOAK_DATABASE)
	$(PY) -m scripts.soak.load --minutes $(SOAK_MINUTES) --database $(SOAK_DATABASE)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
