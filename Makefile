# make demo: install into .venv, write demo datasets into ./data, serve them.
# make test: install (with test extras) and run the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ./data
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2

.PHONY: install install-test demo test serve openapi bench topology clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: install

$(DATA):
	$(BIN)/kazarr-provider demo-data $(DATA)

demo: install
	@test -d $(DATA) || $(BIN)/kazarr-provider demo-data $(DATA)
	DATASETS_PATH=$(DATA) $(BIN)/kazarr-provider serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

openapi: install
	@test -d $(DATA) || $(BIN)/kazarr-provider demo-data $(DATA)
	DATASETS_PATH=$(DATA) $(BIN)/kazarr-provider openapi -o openapi/openapi.yml

bench: install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/s3_bench.py

# the compose stack's topology as processes (moto, PostgreSQL, Dask, two servers); Ctrl-C stops it.
# SESSION=1 runs the scripted session across them instead and stops.
topology: install
	$(BIN)/python bench/topology.py $(if $(SESSION),--session)

clean:
	rm -rf $(VENV) .kazarr *.egg-info
