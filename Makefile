# Two commands for a new user: `make run` and `make test`. Everything they need is
# installed here, from PyPI and npm only: nothing downloads a compiler or a chain binary.
#   .venv          the service (web3 8, FastAPI…), its PostgreSQL driver, and the dev tools (pytest, slither, ruff)
#   .venv-brownie  eth-brownie alone: its exact pins cannot live beside the service's
#   node_modules   solc (WebAssembly), anvil, OpenZeppelin Contracts

PYTHON ?= python3
VENV := .venv
BVENV := .venv-brownie
SOL := $(shell find contracts -name '*.sol')
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup build run test test-contracts test-service postgresql-server bench-tools lint gas clean vendor

setup: node_modules/.installed $(VENV)/.installed $(BVENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.installed: pyproject.toml requirements/service.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is needed (PYTHON=$(PYTHON))")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c requirements/service.lock -e '.[dev,postgres]'
	$(VENV)/bin/pip check
	@touch $@

$(BVENV)/.installed: requirements/brownie.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is needed (PYTHON=$(PYTHON))")'
	$(PYTHON) -m venv $(BVENV)
	$(BVENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/brownie.lock
	$(BVENV)/bin/pip check
	@touch $@

build: build/.compiled

build/.compiled: $(SOL) brownie-config.yaml node_modules/.installed $(BVENV)/.installed
	bin/brownie compile
	@touch $@

run: setup build vendor
	$(VENV)/bin/python -m ledger_api.run

# ethers for the officer page's in-browser signing, copied beside the page's assets so an
# installed service serves it without node_modules (the service serves npm's copy otherwise).
VENDOR := ledger_api/api/static/vendor
vendor: $(VENDOR)/ethers.umd.min.js

$(VENDOR)/ethers.umd.min.js: node_modules/.installed
	@mkdir -p $(VENDOR)
	cp node_modules/ethers/dist/ethers.umd.min.js $@

# Two customs authorities' instances on one development chain: anvil on :8545, Japan
# Customs' instance on :8000, the Netherlands Customs' on :8001, the demo written through
# Japan's (scripts/consortium.py; data under .data/consortium, afresh each time).
consortium: setup build
	$(VENV)/bin/python -m scripts.consortium

test: setup build
	@status=0; \
	$(MAKE) --no-print-directory test-contracts || status=1; \
	$(MAKE) --no-print-directory test-service || status=1; \
	$(MAKE) --no-print-directory lint || status=1; \
	exit $$status

# brownie sometimes reports a transaction "dropped without known replacement" when the
# machine is loaded (a race in its confirmation polling; seen once in 302 tests in CI).
# The suite then runs once more: a test that fails twice fails the build.
test-contracts: setup build
	bin/brownie test tests/contracts -W ignore::FutureWarning || { \
	  echo "contract suite failed; running it once more to tell a flake from a failure"; \
	  bin/brownie test tests/contracts -W ignore::FutureWarning; }

test-service: setup build /usr/bin/chromium postgresql-server bench-tools
	$(VENV)/bin/pytest

# Debian's chromium for the officer page's browser tests: Playwright drives it and downloads
# no browser of its own. Installed when missing and make runs as root (as CI does); without
# it the browser tests skip and say why.
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }; \
	else echo "chromium is missing: sudo apt-get install chromium (the browser tests will skip)"; fi

# Debian's PostgreSQL server: the service suite starts a cluster of its own with its initdb
# and pg_ctl (tests/support/postgres.py) and runs the API, fault and load tests on it as well
# as on SQLite. Installed when missing and make runs as root (as CI does); without it the
# PostgreSQL tests skip and say why (under CI=true they fail).
postgresql-server:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq postgresql >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql; }; \
	else echo "PostgreSQL's server is missing: sudo apt-get install postgresql (the PostgreSQL tests will skip)"; fi

# Debian's wrk, the load the benchmarks' verification runs are measured with (C, little CPU
# beside the service on the same cores; without it they load with Python threads, which take
# a share of those cores and give lower figures: docs/benchmarks.md names the tool of each
# run). Installed when missing and make runs as root; the suite's benchmark tests then run
# the same tool. Not needed for anything else: a failed install only says so.
bench-tools:
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; } \
	  || echo "wrk could not be installed (the benchmarks load with Python threads)"; \
	else echo "wrk is missing: sudo apt-get install wrk (the benchmarks load with Python threads)"; fi

# Static analysis of the contracts with the same offline compiler: fails on any
# High or Medium finding in the project's own contracts.
lint: setup build
	PATH=$(CURDIR)/tools/solc:$$PATH $(VENV)/bin/slither contracts --solc-standard-json \
	  --solc-remaps '@openzeppelin/contracts=node_modules/@openzeppelin/contracts' \
	  --filter-paths node_modules --exclude-informational --exclude-low --fail-medium
	$(VENV)/bin/ruff check ledger_api ledger_bench scripts tests
	$(VENV)/bin/mypy

gas: setup build
	$(VENV)/bin/python -m scripts.bench_gas

clean:
	rm -rf build .brownie-home $(VENDOR)
