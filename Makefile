# Two commands do all the set-up on a fresh machine:
#   make toy    install textlab into .venv and train the tagger on the shipped toy set
#   make test   install the test extras into .venv and run the test suite
# CPU PyTorch is installed first and on its own: a bare `torch` requirement pulls GBs of CUDA wheels.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

$(BIN)/textlab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/textlab

toy: install
	$(BIN)/textlab fit --config configs/ner_toy.yaml

test: install
	$(BIN)/python -m pytest -q

.PHONY: install toy test
