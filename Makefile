# The two commands of the README: `make demo` and `make test`.
# Each creates (or reuses) .venv, installs policyeval with what it needs, then runs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The main job: a quick end-to-end run, then every case-study notebook executed from scratch
# (HTML, figures and tables under reports/notebooks/), with a one-screen summary.
demo: $(STAMP)
	MPLBACKEND=Agg $(PY) -m policyeval.demo --out reports
	MPLBACKEND=Agg $(PY) notebooks/run_all.py --out reports

# The whole suite: unit/reference/property tests, docstring examples (tests/test_docstring_
# examples.py), and the notebooks
# re-executed under nbval against their stored outputs (see docs/notebooks.md).
test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -q -p no:cacheprovider tests \
		notebooks --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

clean:
	rm -rf $(VENV) reports .pytest_cache
