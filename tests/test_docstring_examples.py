"""Every Examples section in the package's docstrings runs and prints what it shows.

The examples are collected module by module with the standard library's doctest (rather than
``pytest --doctest-modules``, which would also import the scripts and conftest files that live
beside the tests and notebooks).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import matplotlib
import pytest

import policyeval

matplotlib.use("Agg")

MODULES = ["policyeval"] + sorted(
    info.name for info in pkgutil.walk_packages(policyeval.__path__, prefix="policyeval.")
)
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def test_every_module_is_found_and_examples_exist():
    assert {"policyeval.data.registry", "policyeval.estimators.staggered",
            "policyeval.reporting.tables"} <= set(MODULES)
    finder = doctest.DocTestFinder(exclude_empty=True)
    count = sum(len(t.examples) for name in MODULES
                for t in finder.find(importlib.import_module(name), name))
    assert count > 100, count


# Every public estimator, test and out-of-core entry point shows a run on real (bundled) objects.
CORE = ["CallawaySantAnna", "TWFE", "EventStudy", "SunAbraham", "ImputationDiD", "TwoStageDiD",
        "BaconDecomposition", "SyntheticControl", "SyntheticDiD", "did_table", "wild_cluster_bootstrap",
        "randomization_inference", "few_treated_inference", "honest_did", "pretrend_test",
        "pretrend_power", "power_analysis", "minimum_detectable_effect", "simulate_enclave_panel",
        "load_simulated_panel", "scale.fit_twfe", "scale.fit_event_study", "scale.fit_callaway_santanna"]


@pytest.mark.parametrize("name", CORE)
def test_core_public_names_have_examples_that_are_not_skipped(name):
    obj = policyeval
    for part in name.split("."):
        obj = getattr(obj, part)
    tests = [t for t in doctest.DocTestFinder().find(obj, name) if t.name == name]
    examples = [e for t in tests for e in t.examples]
    assert len(examples) >= 2, f"{name} has no Examples section"
    skipped = [e.source for e in examples if e.options.get(doctest.SKIP)]
    assert not skipped, f"{name} skips {len(skipped)} example line(s): {skipped[0]!r}"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(module, name):  # each test runs in a copy of the module globals
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
