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

$(VENV)/.installed: requirements.txt tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r tests/requirements.txt
	touch $@

# Lines of at most 120 characters, pyflakes and import order (pyproject.toml); the tests after it.
lint: install
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest -q tests

# The assignment's whole story on a small data set: MNIST files from `make data` when present
# (or DATA=folder holding mnist_1_4_8_*.npz), else a set built offline from scikit-learn's digits.
demo: install
	@set -e; \
	if [ -f "$(DATA)/mnist_1_4_8_train.npz" ]; then \
		sets="$(abspath $(DATA))/mnist_1_4_8"; options=""; \
	else \
		echo "no MNIST files in $(DATA)/: building the offline demo set from scikit-learn's digits"; \
		$(PY) -m vae.datasets digits --out $(DEMO)/data > /dev/null; \
		sets="$(abspath $(DEMO))/data/digits_1_4_8"; options="--epochs 400 --batch-size 64"; \
	fi; \
	mkdir -p $(DEMO); cd $(DEMO); \
	vae="$(abspath $(PY)) $(abspath vae.py)"; \
	echo "== train"; $$vae $${sets}_train.npz $${sets}_val.npz train vae.pth gmm_params.pkl $$options; \
	echo "== test_reconstruction"; $$vae $${sets}_recon.npz test_reconstruction vae.pth; \
	echo "== test_classifier"; $$vae $${sets}_test.npz test_classifier vae.pth gmm_params.pkl; \
	echo "== evaluate"; $$vae evaluate $${sets}_test.npz vae.csv; \
	echo "== plot"; $$vae plot $${sets}_train.npz $${sets}_val.npz vae.pth gmm_params.pkl; \
	echo "demo outputs are in $(DEMO)/"

data: install
	$(PY) -m vae.datasets mnist --out $(DATA)
	$(PY) -m vae.datasets fashion-mnist --out $(DATA)

$(VENV)/.installed-bench: $(VENV)/.installed bench/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

# The assignment's table (about 10 minutes), the family's (each fit once: about 15 minutes),
# anomaly detection against PyOD (about 6 minutes), sweeps with 1 and 2 jobs (about 5 minutes),
# fit on 1 and 2 torchrun processes (under a minute), the two reconstruction searches (about 3 minutes)
# and peak memory reading .npz against memory-mapped .npy, up to 1 M images (about 5 minutes).
bench: install $(VENV)/.installed-bench
	$(PY) -m bench.assignment
	$(PY) -m bench.family
	$(PY) -m bench.anomaly
	$(PY) -m bench.sweep
	$(PY) -m bench.distributed
	$(PY) -m bench.search
	$(PY) -m bench.memory

ablation: install
	$(PY) -m bench.ablation --seeds 0

clean:
	rm -rf $(VENV) $(DEMO) runs .pytest_cache
