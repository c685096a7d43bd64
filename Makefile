# Quick start:  make demo   (set up .venv, run the embedded default pipeline)
#               make test   (set up .venv, run the test suite)
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 2
# Torch build: TORCH_VARIANT = auto (cuda where `nvidia-smi` is found, else cpu) | cpu | cuda.
#   cpu  on Linux: torch==$(TORCH_VERSION)+cpu (~200 MB): a CPU wheel pip already finds offline
#        (find-links) is used as is, otherwise it comes from the PyTorch CPU index (TORCH_INDEX).
#   cuda, and cpu on macOS: torch==$(TORCH_VERSION) from the default index (PyPI's Linux wheel is
#        the CUDA build, several GB with its nvidia-* wheels).
# TORCH="<pip args>" overrides both, e.g. TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126".
TORCH_VARIANT ?= auto
TORCH_VERSION ?= 2.13.0
ifeq ($(TORCH_VARIANT),auto)
override TORCH_VARIANT := $(if $(shell command -v nvidia-smi 2>/dev/null),cuda,cpu)
endif
ifeq ($(TORCH_VARIANT)-$(shell uname -s)-$(origin TORCH),cpu-Linux-undefined)
TORCH       ?= torch==$(TORCH_VERSION)+cpu
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
else
TORCH       ?= torch==$(TORCH_VERSION)
TORCH_INDEX ?=
endif
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
	# Torch first, of TORCH_VARIANT: a bare `torch` requirement would pull PyPI's CUDA build.
	@echo "torch: $(TORCH) (TORCH_VARIANT=$(TORCH_VARIANT))"
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet --no-index --no-deps $(TORCH) 2>/dev/null ||) \
	  $(BIN)/python -m pip install --quiet $(TORCH) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
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
