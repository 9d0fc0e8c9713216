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
    py, env = _pyproject_dependencies(extras=("test",)), _environment_dependencies()
    assert set(py) == set(env), (
        f"only in pyproject.toml: {sorted(set(py) - set(env))}; "
        f"only in environment.yml: {sorted(set(env) - set(py))}"
    )
    assert py == env, "version bounds differ between pyproject.toml and environment.yml"


def test_required_runtime_dependencies_are_declared():
    required = {"pandas", "numpy", "scipy", "statsmodels", "linearmodels", "seaborn",
                "matplotlib", "jupyterlab", "nbval", "pytest"}
    assert required <= set(_pyproject_dependencies())


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

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    missing = []
    for requirement in project["optional-dependencies"]["test"]:
        module = _name(requirement).replace("-", "_")
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(requirement)
    assert not missing, f"install the test extra (pip install -e '.[test]'); missing: {missing}"
