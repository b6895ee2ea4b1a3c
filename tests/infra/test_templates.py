"""The Bicep templates hang together and create what the app needs, configured as it expects.

Read as text (no Bicep compiler runs here): declarations parse, modules are called with the
parameters they declare, referenced outputs exist, and each resource has the settings the
issue asks for (Flex Consumption, dead-lettering, CloudEvents input schema, local auth off).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep_text import BicepFile, BicepSyntaxError, Expr, Resource, parse_bicep
from tests.infra.conftest import INFRA

_OUTPUT_REF = re.compile(r"\b([A-Za-z_]\w*)\.outputs\.([A-Za-z_]\w*)")


def _module_file(templates: dict[str, BicepFile], main: BicepFile, symbol: str) -> BicepFile:
    return templates[main.modules[symbol].path]


def _one(file: BicepFile, type_: str) -> Resource:
    found = [r for r in file.all_resources().values() if r.type == type_ and not r.existing]
    assert len(found) == 1, f"expected one {type_} in {file.path}, found {len(found)}"
    return found[0]


def _module_of(templates: dict[str, BicepFile], type_: str, kind: str | None = None) -> BicepFile:
    owners = [
        f
        for f in templates.values()
        if any(r.type == type_ and not r.existing and kind in (None, r.body.get("kind")) for r in f.resources.values())
    ]
    assert len(owners) == 1, f"expected one template creating {type_}, found {len(owners)}"
    return owners[0]


def _default(file: BicepFile, value: Any) -> Any:
    """A value, or the default of the parameter it names."""
    if isinstance(value, Expr) and value in file.params:
        return file.params[value].value
    return value


def _passed(main: BicepFile, templates: dict[str, BicepFile], module_file: BicepFile, param: str) -> Any:
    """What main.bicep gives `param` of the module, resolved to main's parameter defaults."""
    for module in main.modules.values():
        if templates[module.path] is module_file:
            params = module.body.get("params", {})
            if param in params:
                return _default(main, params[param])
    return module_file.params[param].value


# -- syntax and wiring ------------------------------------------------------------------------


def test_every_template_parses(templates: dict[str, BicepFile]) -> None:
    assert {"main.bicep", "modules/functionapp.bicep", "modules/app-roles.bicep"} <= set(templates)
    for path, file in templates.items():
        assert file.resources or file.modules, f"{path} declares nothing"


def test_reader_rejects_broken_bicep() -> None:
    with pytest.raises(BicepSyntaxError):
        parse_bicep("resource a 'Microsoft.Foo/bars@2020-01-01' = {\n  name: 'a'\n")
    with pytest.raises(BicepSyntaxError):
        parse_bicep("param x string\nbogus y = 1\n")


def test_templates_parse_with_a_bicep_grammar() -> None:
    """A second opinion from a full Bicep grammar (pycep-parser), when it is installed."""
    pycep = pytest.importorskip("pycep", reason="pycep-parser not installed")
    for path in sorted(INFRA.rglob("*.bicep")):
        pycep.BicepParser().parse(text=path.read_text(encoding="utf-8"))


def test_every_parameter_is_described(templates: dict[str, BicepFile]) -> None:
    missing = [
        f"{path}: {name}"
        for path, f in templates.items()
        for name, p in f.params.items()
        if not p.decorators.get("description")
    ]
    assert not missing, f"parameters without @description: {missing}"


def test_modules_get_exactly_the_parameters_they_declare(templates: dict[str, BicepFile]) -> None:
    for path, file in templates.items():
        for symbol, module in file.modules.items():
            target_path = (Path(path).parent / module.path).as_posix()
            assert target_path in templates, f"{path}: module {symbol} points at missing {module.path}"
            target = templates[target_path]
            given = set(module.body.get("params", {}))
            unknown = given - set(target.params)
            assert not unknown, f"{path}: module {symbol} passes undeclared params {unknown}"
            required = {name for name, p in target.params.items() if p.value is None}
            assert required <= given, f"{path}: module {symbol} misses required params {required - given}"


def test_referenced_module_outputs_exist(templates: dict[str, BicepFile], main: BicepFile) -> None:
    text = (INFRA / "main.bicep").read_text(encoding="utf-8")
    for symbol, output in _OUTPUT_REF.findall(text):
        assert symbol in main.modules, f"{symbol}.outputs.{output}: no module {symbol}"
        module_file = _module_file(templates, main, symbol)
        assert output in module_file.outputs, f"{main.modules[symbol].path} has no output {output}"


def test_main_is_an_azd_template(main: BicepFile) -> None:
    assert main.target_scope == "subscription"
    assert {"environmentName", "location", "principalId"} <= set(main.params)
    assert main.vars["tags"].value == {"azd-env-name": Expr("environmentName")}
    rg = _one(main, "Microsoft.Resources/resourceGroups")
    assert rg.body["tags"] == "tags"
    for symbol, module in main.modules.items():
        params = module.body.get("params", {})
        if "tags" in params:
            assert params["tags"] == "tags", f"module {symbol} does not carry the azd tags"


def test_parameters_file_feeds_main(main: BicepFile) -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert set(parameters) <= set(main.params)
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["location"]["value"] == "${AZURE_LOCATION}"
    assert parameters["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"


# -- the resources ----------------------------------------------------------------------------


def test_function_app_runs_on_flex_consumption_python_311(templates: dict[str, BicepFile], main: BicepFile) -> None:
    module = _module_of(templates, "Microsoft.Web/sites")
    plan = _one(module, "Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan.body["properties"]["reserved"] is True
    site = _one(module, "Microsoft.Web/sites")
    assert "linux" in site.body["kind"]
    assert site.body["identity"]["type"] == "UserAssigned"
    config = site.body["properties"]["functionAppConfig"]
    runtime = config["runtime"]
    assert runtime["name"] == "python"
    assert _passed(main, templates, module, str(runtime["version"])) == "3.11"
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert storage["authentication"]["userAssignedIdentityResourceId"] == "identityId"
    assert "deploymentContainerName" in storage["value"]
    assert site.body["properties"]["httpsOnly"] is True
    assert "'azd-service-name': 'api'" in site.body["tags"].replace('"', "'")


def test_deployment_container_exists_in_the_storage_account(templates: dict[str, BicepFile], main: BicepFile) -> None:
    storage = _module_of(templates, "Microsoft.Storage/storageAccounts")
    container = _one(storage, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container.body["name"] == "deploymentContainerName"
    assert main.modules["storage"].body["params"]["deploymentContainerName"] == "deploymentContainerName"
    assert main.modules["functionApp"].body["params"]["deploymentContainerName"] == "deploymentContainerName"


def test_questions_queue_dead_letters_and_bounds_deliveries(templates: dict[str, BicepFile], main: BicepFile) -> None:
    module = _module_of(templates, "Microsoft.ServiceBus/namespaces")
    namespace = _one(module, "Microsoft.ServiceBus/namespaces")
    assert namespace.body["sku"]["name"] == "Standard"
    queue_type = "Microsoft.ServiceBus/namespaces/queues"
    queues = {r.body["name"]: r for r in namespace.children.values() if r.type == queue_type}
    assert set(queues) == {"queueName", "deadLetterQueueName"}
    questions = queues["queueName"].body["properties"]
    assert questions["deadLetteringOnMessageExpiration"] is True
    assert 1 <= _passed(main, templates, module, questions["maxDeliveryCount"]) <= 20
    assert questions["lockDuration"] == "PT1M"
    assert _default(main, main.modules["serviceBus"].body["params"]["queueName"]) == "questions"
    assert _default(main, main.modules["serviceBus"].body["params"]["deadLetterQueueName"]) == "questions-deadletter"


def test_event_grid_topic_takes_cloudevents(templates: dict[str, BicepFile]) -> None:
    topic = _one(_module_of(templates, "Microsoft.EventGrid/topics"), "Microsoft.EventGrid/topics")
    assert topic.body["properties"]["inputSchema"] == "CloudEventSchemaV1_0"


def test_openai_has_the_embedding_and_chat_deployments(templates: dict[str, BicepFile], main: BicepFile) -> None:
    module = _module_of(templates, "Microsoft.CognitiveServices/accounts", "OpenAI")
    account = _one(module, "Microsoft.CognitiveServices/accounts")
    assert account.body["kind"] == "OpenAI"
    assert account.body["properties"]["customSubDomainName"]
    deployments = [r for r in module.resources.values() if r.type == "Microsoft.CognitiveServices/accounts/deployments"]
    models = {_passed(main, templates, module, d.body["properties"]["model"]["name"]) for d in deployments}
    assert models == {"text-embedding-3-small", "gpt-4o-mini"}
    # Deployments of one account must not be created in parallel.
    assert any(d.body.get("dependsOn") for d in deployments)


def test_search_is_basic_with_semantic_ranker(templates: dict[str, BicepFile], main: BicepFile) -> None:
    module = _module_of(templates, "Microsoft.Search/searchServices")
    search = _one(module, "Microsoft.Search/searchServices")
    assert _passed(main, templates, module, search.body["sku"]["name"]) == "basic"
    assert "'free'" in search.body["properties"]["semanticSearch"]
    assert "authOptions" not in search.body["properties"], "authOptions conflicts with disableLocalAuth"


def test_monitoring_is_workspace_based(templates: dict[str, BicepFile]) -> None:
    module = _module_of(templates, "Microsoft.Insights/components")
    app_insights = _one(module, "Microsoft.Insights/components")
    workspace = _one(module, "Microsoft.OperationalInsights/workspaces")
    assert app_insights.body["properties"]["WorkspaceResourceId"] == f"{workspace.symbol}.id"


@pytest.mark.parametrize(
    ("type_", "path", "expected"),
    [
        ("Microsoft.Storage/storageAccounts", ("properties", "allowSharedKeyAccess"), False),
        ("Microsoft.Storage/storageAccounts", ("properties", "allowBlobPublicAccess"), False),
        ("Microsoft.ServiceBus/namespaces", ("properties", "disableLocalAuth"), True),
        ("Microsoft.EventGrid/topics", ("properties", "disableLocalAuth"), True),
        ("Microsoft.Search/searchServices", ("properties", "disableLocalAuth"), True),
        ("Microsoft.CognitiveServices/accounts", ("properties", "disableLocalAuth"), True),
        ("Microsoft.CognitiveServices/accounts:FormRecognizer", ("properties", "disableLocalAuth"), True),
        ("Microsoft.Insights/components", ("properties", "DisableLocalAuth"), True),
    ],
)
def test_local_auth_is_disabled(
    templates: dict[str, BicepFile], main: BicepFile, type_: str, path: tuple[str, ...], expected: bool
) -> None:
    type_, _, kind = type_.partition(":")  # two Cognitive Services accounts: OpenAI, Document Intelligence
    module = _module_of(templates, type_, (kind or "OpenAI") if type_.endswith("/accounts") else None)
    value: Any = _one(module, type_).body
    for key in path:
        value = value[key]
    # Bound to a parameter, its default (as main.bicep passes it) must be the safe value.
    resolved = _passed(main, templates, module, value) if isinstance(value, Expr) else value
    assert resolved is expected
