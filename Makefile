# Every target installs the project into .venv on first use, so a fresh clone needs only `make <target>`.
PYTHON ?= python3.11
PYVER  := $(shell $(PYTHON) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
LOCK   := requirements/py$(PYVER).lock
VENV   ?= .venv
BIN    := $(VENV)/bin
ZOO    := $(BIN)/deepfake-zoo

# Knobs: the same words as the CLI flags (--image-size) and the YAML keys (image_size).
MODEL      ?=
DATA       ?=
TRIALS     ?=
TIMEOUT    ?=
EPOCHS     ?=
IMAGE_SIZE ?=
COMPARE_SIZES ?=
STORAGE    ?=
SEED       ?=
ENGINE     ?=
WEIGHTS    ?=
CONFIG     ?=
INPUT      ?=
MANIFEST   ?= build/splits.csv
PYTEST_ARGS ?=

opt = $(if $(strip $(2)),$(1) $(2))
SEARCH_OPTS = $(call opt,--data,$(DATA)) $(call opt,--trials,$(TRIALS)) $(call opt,--timeout,$(TIMEOUT)) \
  $(call opt,--epochs,$(EPOCHS)) $(call opt,--image-size,$(IMAGE_SIZE)) $(call opt,--compare-sizes,$(COMPARE_SIZES)) \
  $(call opt,--storage,$(STORAGE)) \
  $(call opt,--seed,$(SEED)) $(call opt,--engine,$(ENGINE)) $(call opt,--weights,$(WEIGHTS)) \
  $(call opt,--config,$(CONFIG)) --manifest $(MANIFEST)

.PHONY: setup lock smoke data list search leaderboard predict bench test clean

setup: $(VENV)/.installed-$(PYVER)

# Exact versions from the lock for this interpreter (reproducible); the project itself without re-resolving them.
$(VENV)/.installed-$(PYVER): pyproject.toml $(LOCK)
	$(BIN)/python -c 'import sys; sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" != "$(PYVER)")' 2>/dev/null \
	  || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Re-resolve the locks after editing pyproject.toml's ranges (needs `pip install uv`).
lock:
	for v in 3.11 3.12 3.13; do uv pip compile pyproject.toml --extra dev --extra kaggle --python-version $$v \
	  --python-platform x86_64-manylinux_2_28 --no-header -q -o requirements/py$$v.lock; done

data: setup
	$(ZOO) data $(call opt,--data,$(DATA)) $(if $(KAGGLE),--kaggle) $(call opt,--seed,$(SEED)) --manifest $(MANIFEST)

list: setup
	$(ZOO) list $(call opt,--model,$(MODEL))

search: setup
	$(ZOO) search --model $(or $(MODEL),cnn) $(SEARCH_OPTS)

leaderboard: setup
	$(ZOO) leaderboard

predict: setup
	$(ZOO) predict $(INPUT) $(call opt,--model,$(MODEL))

bench: setup
	$(ZOO) bench $(call opt,--data,$(DATA))

# Real-data tests run when DEEPFAKE_ZOO_DATA names a folder holding the Kaggle-layout datasets.
test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

# A fresh interpreter's smoke test (CI runs it for 3.12 and 3.13): install from its lock, then the CLI's help, the demo
# search for 2 trials and predict on one image, in a scratch folder.
smoke: setup
	rm -rf build/smoke-$(PYVER) && mkdir -p build/smoke-$(PYVER)
	cd build/smoke-$(PYVER) && $(abspath $(ZOO)) --help >/dev/null \
	  && $(abspath $(ZOO)) search --model cnn --image-size 32 --trials 2 --epochs 1 \
	  && $(abspath $(ZOO)) predict "$$(ls build/demo-data/demo/Fake/* | head -1)"

clean:
	rm -rf build runs leaderboard/index.html .pytest_cache
