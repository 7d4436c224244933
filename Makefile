# The two commands the README starts with:  make demo  |  make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all

.PHONY: venv demo test lint format bench rehearsal readme-figures clean

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

# The whole workflow on the embedded demo (synthetic data, tiny offline models), then its report.
demo: venv
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml
	$(BIN)/snakemake --cores 1 --configfile config/demo.yaml --report results/report.html
	$(BIN)/python -m vlmrec tidy-report results/report.html

# The README's demo table (between its demo-table markers) and docs/img/*.png, from the results/ of
# `make demo` (screenshots need Chromium: apt-get install chromium).
readme-figures: venv
	$(BIN)/python -m vlmrec readme-figures --results-dir results --readme README.md --img-dir docs/img

test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	$(BIN)/ruff format --check src tests benchmarks workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --configfile config/demo.yaml

format: venv
	$(BIN)/ruff check --fix src tests benchmarks workflow/scripts
	$(BIN)/ruff format src tests benchmarks workflow/scripts
	$(BIN)/snakefmt Snakefile workflow/rules

# The full-scale rehearsal of the real run (a benchmark, not a test): Baby-sized data served by a
# misbehaving local host, the whole DAG through profiles/workstation with the tiny encoders, then
# build/rehearsal/work/results/run_plan.md. SCALE=0.1 for a quick try; REHEARSAL_EPOCHS per grid point.
SCALE ?= 1.0
REHEARSAL_EPOCHS ?= 2
REHEARSAL_DIR ?= build/rehearsal
rehearsal: venv
	rm -rf $(REHEARSAL_DIR)
	$(BIN)/python benchmarks/rehearsal/run.py --scale $(SCALE) --epochs $(REHEARSAL_EPOCHS) --cores $(CORES) --out $(REHEARSAL_DIR)

bench: venv
	$(BIN)/python benchmarks/bench_preprocess.py
	$(BIN)/python benchmarks/bench_extract.py
	$(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf results logs .snakemake resources/demo resources/models
