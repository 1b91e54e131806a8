# The two set-up commands are `make demo` and `make test`; each creates or updates .venv itself.
PYTHON ?= python3
VENV   ?= .venv
EXTRAS ?= postgres,dev,bench,aws,spark,infra
comma  := ,
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: demo test lint typecheck format bench-ingest clean venv synth

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "shoplake needs Python >= 3.11; found " + sys.version.split()[0] + " (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: venv
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
