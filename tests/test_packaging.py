"""The project's set-up: dependency lists agree, the public API resolves, errors subclass builtins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import policyeval as pe
from policyeval import exceptions as ex

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_dependencies(extras: tuple[str, ...] = ()) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return {_name(r): r.replace(" ", "") for r in requirements}


def _environment_dependencies() -> dict[str, str]:
    deps: dict[str, str] = {}
    in_deps = False
    for raw in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not raw.startswith(" "):
            in_deps = line.startswith("dependencies:")
            continue
        item = line.strip()
        if in_deps and item.startswith("- "):
            spec = item[2:].strip()
            if spec.endswith(":") or spec in {"pip"} or spec.startswith(("python=", "-e ")):
                continue
            deps[_name(spec)] = spec.replace(" ", "")
    return deps


def test_environment_yml_and_pyproject_declare_the_same_dependencies():
    py = _pyproject_dependencies(extras=("scale", "notebooks", "test"))
    env = _environment_dependencies()
    assert set(py) == set(env), (
        f"only in pyproject.toml: {sorted(set(py) - set(env))}; "
        f"only in environment.yml: {sorted(set(env) - set(py))}"
    )
    assert py == env, "version bounds differ between pyproject.toml and environment.yml"


def test_core_stays_lean_and_the_stacks_are_extras():
    core = set(_pyproject_dependencies())
    assert {"numpy", "pandas", "scipy", "matplotlib"} <= core
    heavy = {"jupyterlab", "nbval", "pytest", "hypothesis", "duckdb", "dask", "distributed",
             "statsmodels", "linearmodels", "seaborn"}
    assert not core & heavy, f"belongs in an extra, not the core: {sorted(core & heavy)}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert {"scale", "notebooks", "test"} <= set(project["optional-dependencies"])


def test_library_ranges_are_not_pins():
    pinned = [r for r in _pyproject_dependencies().values() if "==" in r]
    assert not pinned, f"pyproject.toml pins its users (exact versions go in the lock): {pinned}"


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^ ;\\]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_lock_pins_every_declared_package_with_hashes():
    pins = _lock()
    declared = _pyproject_dependencies(extras=("scale", "notebooks", "test"))
    missing = sorted(set(declared) - set(pins))
    assert not missing, f"run `make lock`: declared but not in requirements/lock.txt: {missing}"
    text = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    assert text.count("==") == len(pins) and text.count("--hash=sha256:") >= len(pins)


def test_lock_satisfies_the_declared_ranges():
    from packaging.requirements import Requirement

    pins = _lock()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in ("scale", "notebooks", "test"):
        requirements += project["optional-dependencies"][extra]
    outside = [r for r in requirements
               if not Requirement(r).specifier.contains(pins[_name(r)], prereleases=True)]
    assert not outside, f"the lock is stale against pyproject.toml (run `make lock`): {outside}"


def test_installed_versions_are_the_locked_ones():
    # `make test` installs from the lock; a different installed version means the suite is not
    # testing what a fresh clone gets.
    from importlib.metadata import PackageNotFoundError, version

    pins = _lock()
    wrong = []
    for name in ("numpy", "scipy", "pandas", "matplotlib", "statsmodels", "pyfixest"):
        try:
            got = version(name)
        except PackageNotFoundError:
            got = None
        if got != pins[name]:
            wrong.append(f"{name} {got} (lock: {pins[name]})")
    if wrong and not __import__("os").environ.get("POLICYEVAL_UNLOCKED"):
        pytest.fail("installed versions differ from requirements/lock.txt: " + ", ".join(wrong)
                    + " (set POLICYEVAL_UNLOCKED=1 for make test-latest / test-lowest)")


def test_version_lives_in_one_place():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in text and 'attr = "policyeval.__version__"' in text
    assert re.search(r"^## \[?" + re.escape(pe.__version__), (ROOT / "CHANGELOG.md").read_text(
        encoding="utf-8"), flags=re.M), "CHANGELOG.md has no section for the current version"


def test_every_lazy_public_name_resolves():
    missing = []
    for name in pe._LAZY:
        try:
            getattr(pe, name)
        except (ImportError, AttributeError) as err:
            missing.append(f"{name}: {err}")
    assert not missing, "public names that do not resolve:\n" + "\n".join(missing)


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pe.nope  # noqa: B018


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (ex.DataError, ValueError),
        (ex.DuplicateObservationError, ValueError),
        (ex.ColumnNotFoundError, KeyError),
        (ex.ArgumentTypeError, TypeError),
        (ex.TreatmentTimingError, ValueError),
        (ex.EstimationError, ValueError),
        (ex.AmbiguousSplitError, ValueError),
    ],
)
def test_errors_subclass_package_error_and_builtin(error, builtin):
    assert issubclass(error, ex.PolicyevalError)
    assert issubclass(error, builtin)
    with pytest.raises(builtin, match="boom"):
        raise error("boom")


def test_column_not_found_message_is_not_quoted():
    assert str(ex.ColumnNotFoundError("idname='x' not in data")) == "idname='x' not in data"


def test_readme_quick_start_shows_the_two_commands_first():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1]
    commands = re.findall(r"^(make \w+)", quick, flags=re.M)
    assert commands[:2] == ["make demo", "make test"]


def test_ci_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", script, flags=re.M)


def test_reference_test_packages_are_installed():
    # Reference tests use pytest.importorskip so a user without the "test" extra can still run
    # the rest; under `make test` (and CI) a skip would hide a reference check, so fail here.
    import importlib
    import os

    if os.environ.get("POLICYEVAL_LOWEST"):
        pytest.skip("make test-lowest runs the core's lower bounds without the pinned peers")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    missing = []
    for requirement in project["optional-dependencies"]["test"]:
        module = _name(requirement).replace("-", "_")
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(requirement)
    assert not missing, f"install the test extra (pip install -e '.[test]'); missing: {missing}"


@pytest.mark.parametrize("name", ["data", "design", "estimators", "inference", "results", "plots",
                                  "reporting", "scale", "assess"])
def test_subpackages_are_reachable_after_import(name):
    import importlib

    assert getattr(pe, name) is importlib.import_module(f"policyeval.{name}")


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "duckdb", None)  # makes `import duckdb` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "policyeval\[scale\]"') as info:
        pe.scale.make_engine("anything.parquet")
    assert isinstance(info.value, ex.MissingDependencyError)


def test_every_bundled_data_file_is_declared_package_data():
    """A data file the loaders read but pyproject.toml does not declare is missing from the wheel."""
    import fnmatch

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["policyeval"]
    shipped = [p.relative_to(ROOT / "policyeval").as_posix() for p in (ROOT / "policyeval" / "data").iterdir()
               if p.is_file() and p.suffix not in (".py", ".pyc")]
    undeclared = [f for f in shipped if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert not undeclared, f"add to [tool.setuptools.package-data]: {undeclared}"
    assert {"data/enclaves.csv", "data/simulated_enclave_panel.csv.gz", "data/simulated_enclave_truth.csv.gz",
            "data/simulated_enclave_roles.csv.gz"} <= set(shipped)


@pytest.mark.parametrize("table", ["panel", "truth", "roles"])
def test_bundled_tables_load_from_the_package_copy(table):
    df = pe.load_simulated_panel(table)
    assert len(df) > 0 and df["is_simulated"].all()


@pytest.mark.parametrize("package", ["estimators", "inference", "data", "design", "assess"])
def test_layer_packages_export_their_public_names(package):
    import importlib

    mod = importlib.import_module(f"policyeval.{package}")
    assert mod.__all__, f"policyeval.{package} exports nothing"
    for name in mod.__all__:
        value = getattr(mod, name)
        if not callable(value):
            continue  # a constant (assess's default weights, ...)
        assert not isinstance(value, type(importlib)), f"policyeval.{package}.{name} is a module"
        home = importlib.import_module(value.__module__)
        assert name in getattr(home, "__all__", ()), f"{name} is not public in {value.__module__}"
    assert set(mod.__all__) <= set(dir(mod))
    namespace: dict = {}
    exec(f"from policyeval.{package} import *", namespace)
    assert set(mod.__all__) <= set(namespace)


def test_top_level_estimators_and_tests_are_the_layer_exports():
    from policyeval import estimators, inference

    for name in estimators.__all__ + inference.__all__:
        owner = estimators if name in estimators.__all__ else inference
        if name in pe.__all__:
            assert getattr(pe, name) is getattr(owner, name), name
    fitters = {n for n in estimators.__all__ if not n.endswith("Result")}   # result classes stay in their layer
    assert fitters <= set(pe.__all__), "every estimator is reachable as pe.<name>"


def test_importing_the_layers_loads_no_estimator():
    # did_table (a function named like its module) is imported eagerly, with the covariance it needs
    # and the light normal / t distributions (scipy.special) the covariance uses, and the input
    # checks (estimators._inputs) did_table runs
    import subprocess
    import sys

    code = ("import sys, policyeval.estimators, policyeval.inference, policyeval as pe; pe.scale; pe.reporting; "
            "print(sorted(m for m in sys.modules if m.startswith(('policyeval.estimators.', "
            "'policyeval.inference.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    allowed = ("['policyeval.estimators._inputs', 'policyeval.estimators.did_table', "
               "'policyeval.inference.covariance', 'policyeval.inference.distributions']")
    assert out.stdout.strip() == allowed, out.stdout
