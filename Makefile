# `make lab` and `make test` work on a fresh Debian machine: each builds .venv first
# (again whenever pyproject.toml changes). Run as root, `make test` also installs
# Debian's chromium for the browser tests and nodejs/npm for the local D1 the engine tests also
# run on (and for the front end's build tools, which check the committed bundle); without them
# those tests skip and say why.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
AS_ROOT := $(filter 0,$(shell id -u))
APT := DEBIAN_FRONTEND=noninteractive apt-get
# worksteal: a worker that runs out of tests takes some of the other's, so a few long browser and
# process tests bunched at the end of one worker's share do not leave the other core idle.
PYTEST_ARGS ?= -n auto --dist worksteal --timeout 300

.PHONY: install lab test bench bench-mcp bench-context bench-path bench-widget bench-page docs chromium node front-end widget

install: $(INSTALLED)

# Debian's python3 makes a venv only once python3-venv is installed (it provides ensurepip).
$(BIN)/pip:
	$(PYTHON) -m venv $(VENV) || { test -n "$(AS_ROOT)" && $(APT) update && $(APT) install -y python3-venv \
		&& $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/pip
	$(BIN)/python -m pip install -e '.[lab,test,telemetry]'
	touch $@

lab: install
	$(BIN)/jupyter lab --LabApp.default_url=/lab/tree/notebooks/quickstart.ipynb $(if $(AS_ROOT),--allow-root)

test: install chromium node front-end
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.mcp
	$(BIN)/python -m bench.context
	$(BIN)/python -m bench.backends

bench-mcp: install
	$(BIN)/python -m bench.mcp

bench-context: install
	$(BIN)/python -m bench.context

bench-path: install
	$(BIN)/python -m bench.call_path

docs: install
	$(BIN)/caw docs --out docs

# The DAG widget's and the dashboard page's front end: rebuild caw_lab/static/ from extension/src (commit both).
widget:
	cd extension && npm ci && npm test && npm run build

bench-widget: install chromium
	$(BIN)/python -m bench.widget

bench-page: install chromium
	$(BIN)/python -m bench.page

chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif test -z "$(AS_ROOT)"; then echo "chromium is missing and installing it needs root: the browser tests will skip"; \
	else $(APT) update && $(APT) install -y chromium || echo "could not install chromium: the browser tests will skip"; fi

# The front end's build tools, so the tests check that caw_lab/static/ is what extension/src builds.
front-end: node
	@if command -v npm >/dev/null 2>&1; then cd extension && npm ci --no-audit --no-fund --loglevel=error \
		|| echo "could not install the front end's packages: the bundle check will skip"; fi

node:
	@if command -v npm >/dev/null 2>&1; then :; \
	elif test -z "$(AS_ROOT)"; then echo "npm is missing and installing it needs root: the D1 tests will skip"; \
	else $(APT) update && $(APT) install -y nodejs npm || echo "could not install npm: the D1 tests will skip"; fi
