# The two commands of the README: `make demo` and `make test`.
# Each creates (or reuses) .venv, installs the exact versions of requirements/lock.txt (every
# package pinned and hashed, for Python 3.11 on Linux x86_64), then policyeval itself without
# dependencies, then runs. `make lock` regenerates the lock from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LOCK   := requirements/lock.txt
UV_VERSION := 0.13.9
EXTRAS := scale,notebooks,test,docs
# uv resolves for the target platform whatever machine it runs on (pip-compile cannot).
UV     := .venv-tools/bin/uv
COMPILE = $(UV) pip compile pyproject.toml requirements/build.in --extra scale --extra notebooks --extra test --extra docs \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header
PYTEST_ARGS = -q -p no:cacheprovider tests notebooks --nbval --nbval-current-env \
	--nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: demo test install lock test-latest test-lowest wheel clean docs

$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

install: $(STAMP)

# The main job: a quick end-to-end run, then every case-study notebook executed from scratch
# (HTML, figures and tables under reports/notebooks/), with a one-screen summary.
demo: $(STAMP)
	MPLBACKEND=Agg $(PY) -m policyeval.demo --out reports
	MPLBACKEND=Agg $(PY) notebooks/run_all.py --out reports

# The whole suite: unit/reference/property tests, docstring examples (tests/test_docstring_
# examples.py), and the notebooks re-executed under nbval against their stored outputs
# (see docs/notebooks.md).
test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest $(PYTEST_ARGS)

# The API reference (numpydoc docstrings) and the guides of docs/, as HTML in docs/_build/html.
# -W: a warning fails the build (tests/test_docs.py checks the same).
docs: $(STAMP)
	MPLBACKEND=Agg $(PY) -m sphinx -b html -W --keep-going -q docs docs/_build/html
	@echo "open docs/_build/html/index.html"

$(UV):
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/python -m pip install --quiet uv==$(UV_VERSION)

# Regenerate the lock from pyproject.toml (newest versions its ranges allow, today).
lock: $(UV)
	$(COMPILE) -o $(LOCK)

# Drift check (not part of CI): the newest versions pyproject.toml allows, in their own venv.
test-latest: $(UV)
	rm -rf .venv-latest && $(PYTHON) -m venv .venv-latest
	$(COMPILE) --upgrade -o .venv-latest/lock.txt
	.venv-latest/bin/python -m pip install --quiet --require-hashes --no-deps -r .venv-latest/lock.txt
	.venv-latest/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	POLICYEVAL_UNLOCKED=1 MPLBACKEND=Agg .venv-latest/bin/python -m pytest $(PYTEST_ARGS)

# Lower bounds (not part of CI): the oldest versions pyproject.toml claims for the core, with
# the oldest test stack and no pinned peers, on tests/ (the notebooks' digits need the lock).
test-lowest: $(UV)
	rm -rf .venv-lowest && $(PYTHON) -m venv .venv-lowest
	$(UV) pip compile pyproject.toml --extra scale --extra notebooks requirements/lowest-test.in \
		requirements/build.in \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
		--no-header --resolution lowest-direct -o .venv-lowest/lock.txt
	.venv-lowest/bin/python -m pip install --quiet --require-hashes --no-deps -r .venv-lowest/lock.txt
	.venv-lowest/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	POLICYEVAL_UNLOCKED=1 POLICYEVAL_LOWEST=1 MPLBACKEND=Agg .venv-lowest/bin/python -m pytest \
		-q -p no:cacheprovider tests

# A wheel, installed alone into a clean venv, fits an estimator on the bundled data.
wheel:
	rm -rf dist .venv-wheel && $(PYTHON) -m venv .venv-wheel
	.venv-wheel/bin/python -m pip install --quiet build
	.venv-wheel/bin/python -m build --wheel --outdir dist .
	rm -rf .venv-wheel && $(PYTHON) -m venv .venv-wheel
	.venv-wheel/bin/python -m pip install --quiet dist/*.whl
	cd /tmp && MPLBACKEND=Agg $(CURDIR)/.venv-wheel/bin/python $(CURDIR)/scripts/wheel_smoke.py

clean:
	rm -rf $(VENV) .venv-tools .venv-latest .venv-lowest .venv-wheel dist reports .pytest_cache docs/_build
