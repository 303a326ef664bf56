# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
DEMO_ARCHIVE := demo_archive
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint report clean benchmark slurm-test

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(DEMO_ARCHIVE)/catalog.ecsv: $(STAMP)
	$(BIN)/xrtflow simulate $(DEMO_ARCHIVE)

demo: $(STAMP) $(DEMO_ARCHIVE)/catalog.ecsv
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml
	@echo
	@echo "Results of the demo:"
	@echo "  table:    results/demo/tpyx/tables/results.ecsv (and .csv)"
	@echo "  status:   results/demo/tpyx/tables/status.ecsv"
	@echo "  figures:  results/demo/tpyx/figures/{timeline,parameters,spectra,spectra_single,images,image_last,lightcurve}.{png,pdf}"
	@echo "  report:   make report  ->  results/demo/report.html"

# every figure and table with captions from this run; the graph and statistics show every rule
report: demo
	$(BIN)/snakemake --cores 1 --configfile config/demo.yaml --report results/demo/report.html
	@echo "  report:   results/demo/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow/scripts benchmarks
	$(BIN)/ruff format --check src tests workflow/scripts benchmarks
	$(BIN)/snakemake --lint --configfile config/demo.yaml

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_fit.py

# The demo through a real one-node SLURM cluster on 127.0.0.1 (root, Debian/Ubuntu): installs
# slurm-wlm + munge, starts the daemons, runs tests/test_slurm.py, stops them. See tests/slurm/.
slurm-test: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[slurm]'
	tests/slurm/install.sh
	tests/slurm/start_cluster.sh
	XRTFLOW_SLURM=1 $(BIN)/python -m pytest -q tests/test_slurm.py -s; rc=$$?; tests/slurm/stop_cluster.sh; exit $$rc

clean:
	rm -rf results/demo $(DEMO_ARCHIVE) .snakemake
