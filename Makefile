# The two set-up commands are `make demo` and `make test`; each creates or updates .venv itself.
# `make demo` installs the package with its base dependencies only (what the demo runs);
# `make test` adds the extras the tests need. One .venv serves both: a stamp file records each
# install, and a full install also satisfies the demo (running the demo never removes extras).
PYTHON ?= python3
VENV   ?= .venv
EXTRAS ?= postgres,dev,bench,aws,spark,infra
comma  := ,
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
BASE_STAMP := $(VENV)/.installed-base

.PHONY: demo test lint typecheck format bench-ingest clean venv venv-base synth

define new-venv
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "shoplake needs Python >= 3.11; found " + sys.version.split()[0] + " (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
endef

# Everything: the base dependencies and EXTRAS (tests, lint, benchmarks, Spark, AWS, CDK).
venv: $(STAMP)

$(STAMP): pyproject.toml
	$(new-venv)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*
	@touch $(BASE_STAMP) $@

# The base dependencies only; nothing to do when a full install newer than pyproject.toml is there.
venv-base: $(BASE_STAMP)

$(BASE_STAMP): pyproject.toml
	@if [ $(STAMP) -nt pyproject.toml ]; then echo "$(VENV) holds the full install"; \
	else $(MAKE) --no-print-directory _install-base; fi
	@touch $@

.PHONY: _install-base
_install-base:
	$(new-venv)
	$(BIN)/python -m pip install --quiet -e .

demo: venv-base
	$(BIN)/shoplake demo

test: venv
	$(BIN)/ruff check src tests infra
	$(BIN)/ruff format --check src tests infra
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check src tests infra && $(BIN)/ruff format --check src tests infra

format: venv
	$(BIN)/ruff format src tests infra && $(BIN)/ruff check --fix src tests infra

typecheck: venv
	$(BIN)/mypy

# The AWS deployment's CloudFormation templates, one per stack, in infra/aws/cdk.out/ (the
# Python app alone: no CDK CLI needed). Parameters as CDK context, e.g.
# `make synth CONTEXT='-c shard_count=8 -c environment=prod'` (defaults: infra/aws/cdk.json).
CONTEXT ?=
synth: venv
	$(BIN)/python infra/aws/app.py $(CONTEXT)

bench-ingest: venv
	$(BIN)/shoplake bench ingest --scale 1

clean:
	rm -rf $(VENV) .shoplake .pytest_cache .mypy_cache .ruff_cache
