# Two entry points for a fresh machine (Python 3.11, Java 17, Maven): `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
ONTOC := $(VENV)/bin/ontoc

.PHONY: setup jars demo test lint compile check clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed

jars: setup
	$(PY) -m ontoc.jvm

demo: jars
	$(ONTOC) compile definitions/meeting_room -o generated/meeting_room
	$(ONTOC) run definitions/meeting_room --local --input examples/meeting_room/events --output out/meeting_room --print

lint: setup
	$(VENV)/bin/ruff check ontoc tests
	$(VENV)/bin/ruff format --check ontoc tests
	$(VENV)/bin/mypy

test: jars lint
	$(ONTOC) compile definitions -o generated --check
	$(PY) -m pytest -q

compile: setup
	$(ONTOC) compile definitions -o generated

clean:
	rm -rf out .pytest_cache .hypothesis
