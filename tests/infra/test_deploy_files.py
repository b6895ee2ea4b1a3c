"""azure.yaml, requirements.txt and .funcignore: what azd and the Functions build read.

requirements.txt is what the deployment installs, so it must cover every third-party import of
the app's packages (found with `ast`, mapped to distributions through installed metadata), agree with
pyproject.toml's runtime dependencies and `azure` extra, and pin the versions of requirements.lock,
the set the suite runs with (scripts/lock writes both from pyproject.toml).
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
# The local embedder never runs on Azure (Azure OpenAI embeds there), nor do the document parsers and
# Document Intelligence (`pipeline index` reads files on the machine that has them): their modules and the
# packages only they need are installed for the laptop, and left out of the deployment. The local question queue
# is the embedded host's own: on Azure the plan names Service Bus (the queue trigger needs it configured).
LOCAL_ONLY_MODULES = {
    "providers/local/minilm_embedder.py",
    "providers/local/question_queue.py",
    "providers/azure/document_intelligence.py",
    "ingestion/formats/pdf.py",
    "ingestion/formats/docx.py",
    "ingestion/formats/pptx.py",
    "ingestion/formats/sheets.py",
}
# Extras that stay opt-in on Azure: OTLP export runs only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
OPT_IN_EXTRAS = ("otlp", "ann")
# Imports that name their distribution differently and may not be installed where tests run.
KNOWN_DISTRIBUTIONS = {
    "azure.monitor.opentelemetry": "azure-monitor-opentelemetry",
    "azure.functions": "azure-functions",
    "azure.durable_functions": "azure-functions-durable",
    "usearch": "usearch",
}


def _pins(path: Path, *, here_only: bool) -> dict[tuple[str, str], Requirement]:
    """The `name==version ; marker` lines of a file written by scripts/lock, keyed by name and marker."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        # A line for another Python (azure-functions 2.x needs 3.13) does not apply here.
        if here_only and requirement.marker is not None and not requirement.marker.evaluate():
            continue
        found[canonicalize_name(requirement.name), str(requirement.marker or "")] = requirement
    return found


def _requirements() -> dict[str, Requirement]:
    return {name: r for (name, _), r in _pins(ROOT / "requirements.txt", here_only=True).items()}


def _pinned(requirement: Requirement) -> Version:
    (spec,) = requirement.specifier
    assert spec.operator == "==", f"{requirement}: scripts/lock pins exact versions"
    return Version(spec.version)


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
    extras = _pyproject()["project"]["optional-dependencies"]
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


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_requirements_agree_with_pyproject() -> None:
    pyproject = _pyproject()
    project = pyproject["project"]
    local_only = {canonicalize_name(n) for n in pyproject["tool"]["durable-ai-pipeline"]["local-only"]}
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["azure"]]
    requirements = _requirements()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name in local_only:
            assert name not in requirements, f"{name} is only for the local embedder: leave it out of the deployment"
            continue
        assert name in requirements, f"requirements.txt lacks {requirement}: run scripts/lock"
        assert _pinned(requirements[name]) in requirement.specifier, f"{requirements[name]} is outside {requirement}"


def test_the_lock_covers_every_declared_requirement() -> None:
    """Editing pyproject.toml without running scripts/lock leaves a requirement the lock does not satisfy."""
    pyproject = _pyproject()
    project = pyproject["project"]
    declared = [*project["dependencies"], *pyproject["build-system"]["requires"], "pip"]
    declared += [r for extra in ("azure", "dev", "ann") for r in project["optional-dependencies"][extra]]
    lock = _pins(ROOT / "requirements.lock", here_only=True)
    for text in declared:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pins = [r for (name, _), r in lock.items() if name == canonicalize_name(requirement.name)]
        assert len(pins) == 1, f"requirements.lock pins {requirement.name} {len(pins)} times here: run scripts/lock"
        assert _pinned(pins[0]) in requirement.specifier, f"{pins[0]} is outside {requirement}: run scripts/lock"


def test_every_deployed_pin_is_the_locked_version() -> None:
    """Azure installs what the tests ran with: each line of requirements.txt is a line of requirements.lock."""
    lock = _pins(ROOT / "requirements.lock", here_only=False)
    deployed = _pins(ROOT / "requirements.txt", here_only=False)
    assert deployed, "requirements.txt pins nothing"
    for key, requirement in deployed.items():
        assert key in lock, f"requirements.txt pins {requirement}, which requirements.lock lacks: run scripts/lock"
        assert _pinned(requirement) == _pinned(lock[key]), f"{requirement} but the lock says {lock[key]}"


def test_the_installed_set_is_the_lock() -> None:
    """The suite runs with exactly the locked versions (scripts/test installs with -c requirements.lock)."""
    differ = {}
    for (name, _), requirement in _pins(ROOT / "requirements.lock", here_only=True).items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            differ[name] = "not installed"
            continue
        if installed != _pinned(requirement):
            differ[name] = f"{installed} installed, {requirement} locked"
    assert not differ, f"install with `-c requirements.lock` (scripts/test does): {differ}"


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
