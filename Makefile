# Quick start:  make demo   (set up .venv, run the embedded default pipeline)
#               make test   (set up .venv, run the test suite)
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 2
TORCH  ?= torch==2.13.0
# FAISS build: cpu (faiss-cpu, default) or cuda (faiss-gpu-cu12; also set TORCH to a CUDA wheel,
# e.g. make setup FAISS=cuda TORCH="torch --index-url https://download.pytorch.org/whl/cu124")
FAISS  ?= cpu
BIN    := $(VENV)/bin

.PHONY: setup demo test report lint dryrun clean

$(BIN)/latentgeom: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# CPU torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[demo,test,$(FAISS)]"
	touch $@

setup: $(BIN)/latentgeom

demo: setup
	$(BIN)/snakemake --cores $(CORES)

report: demo
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/snakemake --lint

dryrun: setup
	$(BIN)/snakemake -n --quiet rules
	$(BIN)/snakemake -n --quiet rules --configfile config/paper.yaml

clean:
	rm -rf results .snakemake
