# The two commands of the README: `make demo` and `make test`.
# Each creates .venv if needed and (re)installs only when setup.py changed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_FLAGS ?= --model=resnet20 --dataset=digits --epochs=15 \
	--model_dir=runs/demo --export=runs/demo/saved_model

.PHONY: demo test test-slow test-onednn-off test-jax clean

demo: $(VENV)/.installed
	$(PY) -m zoo.train $(DEMO_FLAGS)

# Every test but those marked slow (over ~20 s each: fresh-process CLI runs,
# training runs, the benchmarks' quick runs); `make test-slow` runs those.
# Both together are the whole suite, and CI (.ci/run) runs both.
test: $(VENV)/.installed-test
	$(PY) -m pytest -m "not slow"

test-slow: $(VENV)/.installed-test
	$(PY) -m pytest -m slow

# CI's extra passes (.ci/run).
# The layout and block tests with TensorFlow's own CPU kernels (oneDNN off:
# the default on CPUs without AVX-512 VNNI/BF16, where NCHW convolutions fail).
test-onednn-off: $(VENV)/.installed-test
	TF_ENABLE_ONEDNN_OPTS=0 $(PY) -m pytest -m "not slow" tests/ops tests/blocks zoo/ops zoo/blocks
	TF_ENABLE_ONEDNN_OPTS=0 $(PY) -m pytest -m "not slow" tests/models \
		-k "channels_first or data_format or summary or bn_epsilon"

# The backend-neutral tests on Keras' JAX backend. JAX compiles each op for
# each new shape, most of this pass's time: a persistent compilation cache
# (kept between runs, outside the repository) and unoptimized LLVM code for
# those tiny ops (same numerics: XLA's CPU fast-math stays off) take it from
# ~4 to ~3 minutes cold, ~1.5 warm, on 2 cores. tests/models/test_resnet.py,
# test_einsum_mlp.py and test_registry.py pass on JAX too but are left out
# for time; the slow tests/models/test_cross_backend.py (main pass) loads
# every registered model on JAX.
JAX_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/zoo/jax
test-jax: $(VENV)/.installed-test
	KERAS_BACKEND=jax JAX_COMPILATION_CACHE_DIR="$(JAX_CACHE)" \
	JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
	XLA_FLAGS="$(XLA_FLAGS) --xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true" \
		$(PY) -m pytest -m "not slow" tests/blocks tests/test_all_models.py \
		tests/models/test_text_rnn.py tests/test_decode_predictions.py zoo/blocks zoo/models

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10) and "Python 3.10+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python setup.py
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python setup.py
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
