# The two commands of the README: `make demo` and `make test`.
# Each creates .venv if needed and (re)installs only when setup.py changed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_FLAGS ?= --model=resnet20 --dataset=digits --epochs=15 \
	--model_dir=runs/demo --export=runs/demo/saved_model

.PHONY: demo test clean

demo: $(VENV)/.installed
	$(PY) -m zoo.train $(DEMO_FLAGS)

test: $(VENV)/.installed-test
	$(PY) -m pytest

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
