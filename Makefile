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
# FAISS build: cpu (faiss-cpu, default) or cuda (faiss-gpu-cu12; pair it with a CUDA torch, which
# TORCH_VARIANT=auto picks where nvidia-smi is found: make setup FAISS=cuda)
FAISS  ?= cpu
BIN    := $(VENV)/bin

.PHONY: setup demo test test-envs report lint bench lock dryrun clean rehearsal gpu-check demo-beyond

# The rehearsal: config/paper.yaml (sizes cut by rehearsal/sizes.yaml) against a stand-in of the
# hub built by rehearsal/standin_hub.py, with the hub offline. Run it in a clean clone: it
# writes results/ and links checkpoints/sinha to the stand-in's fairseq checkpoints.
REHEARSAL_HUB ?= .rehearsal/hub
PAPER          = --configfile config/paper.yaml rehearsal/sizes.yaml
# The demo's MiniLM and the stand-in's models are small: a job spends seconds importing torch and
# transformers on one core, so one thread per job (two jobs at once on 2 cores) keeps both cores
# busy. On a bigger machine or a GPU, drop it: `make demo SMALL_JOBS=`.
SMALL_JOBS      ?= --set-threads glue_finetune=1 embed=1 quantize=1 measures=1
REHEARSAL_FLAGS ?= $(SMALL_JOBS)
OFFLINE        = HF_HOME=$(abspath $(REHEARSAL_HUB)) HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
                 TRANSFORMERS_OFFLINE=1

$(BIN)/latentgeom: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# Torch first, of TORCH_VARIANT: a bare `torch` requirement would pull PyPI's CUDA build.
	@echo "torch: $(TORCH) (TORCH_VARIANT=$(TORCH_VARIANT))"
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet --no-index --no-deps $(TORCH) 2>/dev/null ||) \
	  $(BIN)/python -m pip install --quiet $(TORCH) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[demo,test,geometry,$(FAISS)]" $(if $(LOCKED),-c $(LOCK))
	touch $@

setup: $(BIN)/latentgeom

demo: setup
	$(BIN)/snakemake --cores $(CORES) $(SMALL_JOBS)

# The README's "Beyond the paper" results: config/beyond.yaml over the default (latent-noise
# models, other geometry, the out-of-sample ranking, soft PP). Over a finished `make demo` it
# adds only its own jobs and re-makes the tables and figures after them.
# (On 2 cores the geometry jobs run one thread each too, two at once, as SMALL_JOBS does.)
BEYOND = --configfile config/config.yaml config/beyond.yaml
BEYOND_JOBS ?= $(if $(SMALL_JOBS),$(SMALL_JOBS) geometry=1)
demo-beyond: demo
	$(BIN)/snakemake --cores $(CORES) $(BEYOND_JOBS) $(BEYOND)

report: demo
	$(BIN)/snakemake --cores $(CORES) $(SMALL_JOBS) --report results/report.html

test: setup
	$(BIN)/python -m pytest

# The per-rule-group envs, each built in a fresh virtualenv (slow: several minutes each).
test-envs: setup
	$(BIN)/python -m pytest -m envbuild tests/test_envs.py

# Lint: snakefmt (Snakefile, *.smk), Snakemake's own linter, ruff (pyproject.toml [tool.ruff]).
$(BIN)/ruff: pyproject.toml | $(BIN)/latentgeom
	$(BIN)/python -m pip install --quiet -e ".[lint]"
	touch $@

lint: setup $(BIN)/ruff
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint
	$(BIN)/ruff check .

# Benchmarks: every benchmarks/*.py at its documented size; each one's table is rewritten under
# $(BENCH_OUT) (benchmarks/README.md discusses them). Long: tens of minutes on 2 CPU cores.
BENCH_OUT ?= benchmarks/results
# the authors' 5,000 sampled sequences, one a line (benchmarks/measures_input.py says where from)
SEQUENCES ?= ../shared/reference/published/sample_sequences.txt

bench: setup
	mkdir -p $(BENCH_OUT)
	$(BIN)/python benchmarks/embed.py > $(BENCH_OUT)/embed.md && cat $(BENCH_OUT)/embed.md
	$(BIN)/python benchmarks/quantize.py > $(BENCH_OUT)/quantize.md && cat $(BENCH_OUT)/quantize.md
	$(BIN)/python benchmarks/measures.py --sequences $(SEQUENCES) --scaling > $(BENCH_OUT)/measures.md && cat $(BENCH_OUT)/measures.md
	$(BIN)/python benchmarks/finetune.py --task shuffled --train 600 --dev 300 --seeds 42 43 \
	  > $(BENCH_OUT)/finetune.md && cat $(BENCH_OUT)/finetune.md
	$(BIN)/python benchmarks/checkpoint_size.py > $(BENCH_OUT)/checkpoint_size.md && \
	  cat $(BENCH_OUT)/checkpoint_size.md
	@if [ -d results/benchmarks ]; then \
	  $(BIN)/python benchmarks/stage_costs.py --results results > $(BENCH_OUT)/stage_costs.md && \
	  cat $(BENCH_OUT)/stage_costs.md; \
	else echo "stage_costs: no results/benchmarks (run make demo first)"; fi

# A self-test on a new GPU node (a few minutes): FAISS GPU vs CPU, CUDA vs CPU embeddings, one
# bf16 fine-tuning; prints a table for benchmarks/README.md, exits 1 on a mismatch. Without a
# GPU it says so and exits 0. On a GPU node set up with `make setup FAISS=cuda`.
gpu-check: setup
	$(BIN)/latentgeom gpu-check

# Lock: the exact versions in $(VENV) (all extras but the project itself), per torch variant.
# Install from it with `make setup LOCKED=1` (constraints for every package after torch).
LOCK ?= requirements/lock-$(TORCH_VARIANT).txt
lock: setup $(BIN)/ruff $(BIN)/accelerate
	mkdir -p $(dir $(LOCK))
	{ echo "# pip freeze of $(VENV): make lock TORCH_VARIANT=$(TORCH_VARIANT) ($$($(BIN)/python -V))"; \
	  $(BIN)/python -m pip freeze --exclude-editable --exclude latentgeom; } > $(LOCK)

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
	$(OFFLINE) $(BIN)/snakemake --cores $(CORES) $(REHEARSAL_FLAGS) $(PAPER)
	$(OFFLINE) $(BIN)/snakemake --cores $(CORES) $(REHEARSAL_FLAGS) $(PAPER) 2>&1 | tee .rehearsal/second-run.log
	grep -q "Nothing to be done" .rehearsal/second-run.log
	$(BIN)/python rehearsal/check.py $(PAPER)

clean:
	rm -rf results .snakemake
