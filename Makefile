# The README's two commands: `make run` and `make test`. Both set up first.
PY := .venv/bin/python
ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup run test cleanup
setup:
	@bash scripts/setup.sh

run: setup
	$(PY) -m experiments.run algo=greedy $(ARGS)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

cleanup:
	$(PY) -m testbed.cleanup --all
