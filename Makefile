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

.PHONY: setup demo test report lint dryrun clean rehearsal

# The rehearsal: config/paper.yaml (sizes cut by rehearsal/sizes.yaml) against a stand-in of the
# hub built by rehearsal/standin_hub.py, with the hub offline. Run it in a clean clone: it
# writes results/ and links checkpoints/sinha to the stand-in's fairseq checkpoints.
REHEARSAL_HUB ?= .rehearsal/hub
PAPER          = --configfile config/paper.yaml rehearsal/sizes.yaml
OFFLINE        = HF_HOME=$(abspath $(REHEARSAL_HUB)) HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
                 TRANSFORMERS_OFFLINE=1

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

rehearsal: setup
	@if [ -e checkpoints/sinha ] && [ ! -L checkpoints/sinha ]; then \
	  echo "checkpoints/sinha holds real checkpoints: run the rehearsal in a clean clone"; exit 1; fi
	@if [ -d results ] && [ ! -f results/.rehearsal ]; then \
	  echo "results/ holds another run's results: run the rehearsal in a clean clone"; exit 1; fi
	rm -rf $(REHEARSAL_HUB)
	$(BIN)/python rehearsal/standin_hub.py --out $(REHEARSAL_HUB)
	mkdir -p checkpoints results && touch results/.rehearsal
	ln -sfn $(abspath $(REHEARSAL_HUB))/sinha checkpoints/sinha
	$(OFFLINE) $(BIN)/latentgeom prefetch $(PAPER)
	$(OFFLINE) $(BIN)/snakemake --cores $(CORES) $(PAPER)
	$(OFFLINE) $(BIN)/snakemake --cores $(CORES) $(PAPER) | tee .rehearsal/second-run.log
	grep -q "Nothing to be done" .rehearsal/second-run.log
	$(BIN)/python rehearsal/check.py $(PAPER)

clean:
	rm -rf results .snakemake
