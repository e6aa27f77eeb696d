# Everything a fresh clone needs: `make test` and `make demo` create the virtualenv themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= data
DEMO ?= demo
# A local CPU build of torch, where the machine has one, keeps pip from fetching the CUDA build.
ifneq ($(wildcard /opt/wheels),)
export PIP_FIND_LINKS ?= /opt/wheels
endif

.PHONY: install lint test demo data bench ablation clean

install: $(VENV)/.installed

# The pinned requirements, then vae itself, editable: the `vae` command on the venv's PATH, and
# `python -m vae.datasets` from any folder.
$(VENV)/.installed: requirements.txt tests/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r tests/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Lines of at most 120 characters, pyflakes and import order (pyproject.toml); the tests after it.
lint: install
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest -q tests

# The assignment's whole story on a small data set: MNIST files from `make data` when present
# (or DATA=folder holding mnist_1_4_8_*.npz); a folder with the training file alone (DATA=../shared/data)
# is split into train/val/test/recon first; else a set built offline from scikit-learn's digits.
# OPTIONS="--epochs 5" passes options to train.
demo: install
	@set -e; \
	if [ -f "$(DATA)/mnist_1_4_8_val.npz" ]; then \
		sets="$(abspath $(DATA))/mnist_1_4_8_"; options="$(OPTIONS)"; \
	elif [ -f "$(DATA)/mnist_1_4_8_train.npz" ]; then \
		echo "$(DATA)/ holds the training file alone: splitting it into $(DEMO)/data/ (train, val, test, recon)"; \
		$(PY) -m vae.datasets split $(DATA)/mnist_1_4_8_train.npz --out $(DEMO)/data > /dev/null; \
		sets="$(abspath $(DEMO))/data/"; options="$(OPTIONS)"; \
	else \
		echo "no MNIST files in $(DATA)/: building the offline demo set from scikit-learn's digits"; \
		$(PY) -m vae.datasets digits --out $(DEMO)/data > /dev/null; \
		sets="$(abspath $(DEMO))/data/digits_1_4_8_"; options="$(or $(OPTIONS),--epochs 400 --batch-size 64)"; \
	fi; \
	mkdir -p $(DEMO); cd $(DEMO); \
	vae="$(abspath $(PY)) $(abspath vae.py)"; \
	echo "== train"; $$vae $${sets}train.npz $${sets}val.npz train vae.pth gmm_params.pkl $$options; \
	echo "== test_reconstruction"; $$vae $${sets}recon.npz test_reconstruction vae.pth; \
	echo "== test_classifier"; $$vae $${sets}test.npz test_classifier vae.pth gmm_params.pkl; \
	echo "== evaluate"; $$vae evaluate $${sets}test.npz vae.csv; \
	echo "== plot"; $$vae plot $${sets}train.npz $${sets}val.npz vae.pth gmm_params.pkl; \
	echo "demo outputs are in $(DEMO)/"

data: install
	$(PY) -m vae.datasets mnist --out $(DATA)
	$(PY) -m vae.datasets fashion-mnist --out $(DATA)

$(VENV)/.installed-bench: $(VENV)/.installed bench/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

# The assignment's table (about 10 minutes), the family's (each fit once: about 15 minutes),
# anomaly detection against PyOD (about 6 minutes), sweeps with 1 and 2 jobs and on a 2-worker Dask cluster
# (about 6 minutes),
# fit on 1 and 2 torchrun processes (under a minute), the two reconstruction searches (about 3 minutes)
# peak memory reading .npz against memory-mapped .npy, up to 1 M images (about 5 minutes), folders of PNG
# files, generation, and real photographs at 64 and 128 px against plain baselines (about an hour), and a β
# sweep (β 1, 2, 4, 8) on generated shapes with MIG and NLL columns (about 30 minutes).
bench: install $(VENV)/.installed-bench
	$(PY) -m bench.assignment
	$(PY) -m bench.family
	$(PY) -m bench.anomaly
	$(PY) -m bench.sweep
	$(PY) -m bench.distributed
	$(PY) -m bench.search
	$(PY) -m bench.memory
	$(PY) -m bench.folders
	$(PY) -m bench.generation
	$(PY) -m bench.photos
	$(PY) -m bench.beta

ablation: install
	$(PY) -m bench.ablation --seeds 0

clean:
	rm -rf $(VENV) $(DEMO) runs .pytest_cache vae.egg-info
