"""The Durable task hub's backend: Azure Storage by default, the Durable Task Scheduler on request.

`durableTaskBackend=DurableTaskScheduler` must create the scheduler and its task hub, give the app's
identity (and the developer, for the dashboard) Durable Task Data Contributor on that task hub, and
point the host at it with app settings that override host.json. The default must stay exactly as
it was: no scheduler, no extra role, no extra setting, host.json untouched.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.infra.bicep_text import BicepFile, Expr, Interpolated
from tests.infra.conftest import INFRA

ROOT = Path(__file__).resolve().parents[2]
HOST_JSON = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
DTS_ROLE = "0ad04412-c4d5-4796-b79c-f76d14c8d402"  # Durable Task Data Contributor
DTS_API = "2025-11-01"
OVERRIDE = "AzureFunctionsJobHost__"
CONNECTION_SETTING = "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"


@pytest.fixture(scope="module")
def dts(templates: dict[str, BicepFile]) -> BicepFile:
    return templates["modules/durabletask.bicep"]


def _ternary(expr: object) -> tuple[str, str, str]:
    """`cond ? a : b` -> (cond, a, b); fails the test when the expression is not one."""
    match = re.fullmatch(r"(.+?)\s*\?\s*(.+?)\s*:\s*(.+)", str(expr))
    assert match, f"expected a ternary, got {expr!r}"
    return match.group(1), match.group(2), match.group(3)


# -- the parameter ------------------------------------------------------------------------------


def test_azure_storage_is_the_default_backend(main: BicepFile) -> None:
    param = main.params["durableTaskBackend"]
    assert param.value == "AzureStorage"
    assert re.findall(r"'(\w+)'", param.decorators["allowed"]) == ["AzureStorage", "DurableTaskScheduler"]
    assert main.vars["useDurableTaskScheduler"].value == "durableTaskBackend == 'DurableTaskScheduler'"
    # azd feeds it from the environment, defaulting to Azure Storage as the template does.
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["durableTaskBackend"]["value"] == "${DURABLE_TASK_BACKEND=AzureStorage}"
    assert parameters["durableTaskSchedulerSku"]["value"] == "${DURABLE_TASK_SCHEDULER_SKU=Consumption}"


def test_location_carries_azds_location_metadata(main: BicepFile) -> None:
    metadata = main.params["location"].decorators.get("metadata", "")
    assert re.fullmatch(r"\{\s*azd:\s*\{\s*type:\s*'location'\s*\}\s*\}", metadata), metadata


def test_the_scheduler_sku_defaults_to_consumption(main: BicepFile, dts: BicepFile) -> None:
    assert main.params["durableTaskSchedulerSku"].value == "Consumption"
    assert re.findall(r"'(\w+)'", main.params["durableTaskSchedulerSku"].decorators["allowed"]) == [
        "Consumption",
        "Dedicated",
    ]
    call = main.modules["durableTask"].body["params"]
    assert call["skuName"] == "durableTaskSchedulerSku"
    assert call["capacity"] == "durableTaskSchedulerCapacity"


# -- the resources ------------------------------------------------------------------------------


def test_the_scheduler_exists_only_when_chosen(templates: dict[str, BicepFile], main: BicepFile) -> None:
    module = main.modules["durableTask"]
    assert module.path == "modules/durabletask.bicep"
    assert module.condition == "useDurableTaskScheduler"
    owners = [
        path
        for path, file in templates.items()
        for r in file.all_resources().values()
        if r.type.startswith("Microsoft.DurableTask/") and not r.existing
    ]
    assert owners == ["modules/durabletask.bicep", "modules/durabletask.bicep"]


def test_scheduler_and_task_hub(main: BicepFile, dts: BicepFile) -> None:
    scheduler = dts.resources["scheduler"]
    assert (scheduler.type, scheduler.api_version) == ("Microsoft.DurableTask/schedulers", DTS_API)
    properties = scheduler.body["properties"]
    # An empty allow list denies every caller, the app included.
    assert dts.params["ipAllowlist"].value == ["0.0.0.0/0"]
    assert properties["ipAllowlist"] == "ipAllowlist"
    # Consumption has no capacity units; Dedicated gets them.
    cond, dedicated, consumption = _ternary(properties["sku"])
    assert cond == "skuName == 'Dedicated'"
    assert dts.vars[dedicated].value == {"name": "Dedicated", "capacity": Expr("capacity")}
    assert dts.vars[consumption].value == {"name": "Consumption"}
    hub = scheduler.children["taskHub"]
    assert (hub.type, hub.api_version) == ("Microsoft.DurableTask/schedulers/taskHubs", DTS_API)
    assert hub.body["name"] == "taskHubName"
    assert dts.outputs["endpoint"].value == "scheduler.properties.endpoint"
    assert dts.outputs["dashboardUrl"].value == "scheduler::taskHub.properties.dashboardUrl"


def test_the_task_hub_keeps_host_jsons_name(main: BicepFile) -> None:
    hub = HOST_JSON["extensions"]["durableTask"]["hubName"]
    assert main.vars["durableTaskHubName"].value == hub
    assert re.fullmatch(r"[a-zA-Z0-9-]{3,64}", hub), "a task hub name the scheduler accepts"
    assert main.modules["durableTask"].body["params"]["taskHubName"] == "durableTaskHubName"


# -- roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "principal_type"),
    [("modules/app-roles.bicep", "ServicePrincipal"), ("modules/developer-roles.bicep", "principalType")],
)
def test_durable_task_role_is_on_the_task_hub_only_when_chosen(
    templates: dict[str, BicepFile], main: BicepFile, path: str, principal_type: str
) -> None:
    file = templates[path]
    assert file.vars["roles"].value["durableTaskDataContributor"] == DTS_ROLE
    resources = file.all_resources()
    found = [
        r
        for r in resources.values()
        if r.type == "Microsoft.Authorization/roleAssignments"
        and "durableTaskDataContributor" in r.body["properties"]["roleDefinitionId"]
    ]
    assert len(found) == 1
    (assignment,) = found
    assert assignment.condition == "useDurableTaskScheduler"
    assert assignment.body["scope"] == "scheduler::taskHub"
    assert resources["scheduler::taskHub"].type == "Microsoft.DurableTask/schedulers/taskHubs"
    assert resources["scheduler"].api_version == DTS_API
    assert resources["scheduler"].body["name"] == "durableTaskSchedulerName"
    assert resources["scheduler::taskHub"].body["name"] == "durableTaskHubName"
    assert assignment.body["properties"]["principalId"] == "principalId"
    assert assignment.body["properties"]["principalType"] == principal_type
    assert file.params["useDurableTaskScheduler"].value is False
    # main passes the same names the scheduler module creates, and waits for it.
    call = next(m for m in main.modules.values() if m.path == path)
    assert call.body["params"]["useDurableTaskScheduler"] == "useDurableTaskScheduler"
    assert call.body["params"]["durableTaskSchedulerName"] == "durableTaskSchedulerName"
    assert call.body["params"]["durableTaskHubName"] == "durableTaskHubName"
    assert main.modules["durableTask"].body["params"]["name"] == "durableTaskSchedulerName"
    assert "durableTask" in call.body.get("dependsOn", [])


# -- app settings -------------------------------------------------------------------------------


def test_default_settings_are_unchanged(main: BicepFile) -> None:
    cond, chosen, default = _ternary(main.vars["siteSettings"].value)
    assert cond == "useDurableTaskScheduler"
    assert default == "appSettings"
    assert chosen == "union(appSettings, durableTaskSchedulerSettings)"
    settings = main.vars["appSettings"].value
    assert not [name for name in settings if name.startswith(OVERRIDE) or "DURABLE_TASK" in name]
    # The task hub stays in the host storage account, reached with the identity.
    assert settings["AzureWebJobsStorage__accountName"] == "storage.outputs.name"


def test_scheduler_settings_point_the_host_at_it(main: BicepFile) -> None:
    settings = main.vars["durableTaskSchedulerSettings"].value
    prefix = f"{OVERRIDE}extensions__durableTask__"
    assert settings == {
        CONNECTION_SETTING: Interpolated(
            "Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;"
            "ClientID=${identity.outputs.clientId}"
        ),
        f"{prefix}storageProvider__type": "azureManaged",
        f"{prefix}storageProvider__connectionStringName": CONNECTION_SETTING,
        f"{prefix}hubName": Expr("durableTaskHubName"),
    }
    # The endpoint is read from the module only when the module exists.
    cond, chosen, default = _ternary(main.vars["durableTaskSchedulerEndpoint"].value)
    assert (cond, chosen, default) == ("useDurableTaskScheduler", "durableTask.outputs.endpoint", "''")


def test_overrides_land_on_host_jsons_durable_section(main: BicepFile) -> None:
    """`AzureFunctionsJobHost__a__b` replaces host.json's a.b: the path must exist up to the last key,
    spelled as host.json spells it, or the setting is silently ignored."""
    for name in main.vars["durableTaskSchedulerSettings"].value:
        if not name.startswith(OVERRIDE):
            continue
        *parents, leaf = name.removeprefix(OVERRIDE).split("__")
        node = HOST_JSON
        for key in parents[: parents.index("durableTask") + 1]:
            assert key in node, f"{name}: host.json has no {key!r} here"
            node = node[key]
        assert leaf in ("type", "connectionStringName", "hubName"), name


def test_host_json_keeps_azure_storage_as_the_default() -> None:
    durable = HOST_JSON["extensions"]["durableTask"]
    # No storageProvider type: the Durable extension's default, Azure Storage over AzureWebJobsStorage.
    assert "type" not in durable.get("storageProvider", {})
    # The Azure-managed provider ships in extension bundle 4.32.0 and later; a 4.x range that is not
    # pinned below that lets the host take the newest 4.x.
    bundle = HOST_JSON["extensionBundle"]
    assert bundle["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    lower, upper = re.fullmatch(r"\[([^,]+),\s*([^)]+)\)", bundle["version"]).groups()
    assert upper == "5.0.0"
    assert lower == "4.*" or tuple(int(p) for p in lower.split(".")) >= (4, 32, 0)


def test_the_connection_string_holds_no_secret(main: BicepFile) -> None:
    value = str(main.vars["durableTaskSchedulerSettings"].value[CONNECTION_SETTING])
    assert "Authentication=ManagedIdentity" in value
    assert not re.search(r"key|secret|password|token", value, re.IGNORECASE)


def test_outputs_tell_azd_where_the_dashboard_is(main: BicepFile) -> None:
    assert main.outputs["DURABLE_TASK_BACKEND"].value == "durableTaskBackend"
    assert main.outputs["DURABLE_TASK_SCHEDULER_ENDPOINT"].value == "durableTaskSchedulerEndpoint"
    cond, chosen, default = _ternary(main.outputs["DURABLE_TASK_SCHEDULER_DASHBOARD_URL"].value)
    assert (cond, chosen, default) == ("useDurableTaskScheduler", "durableTask.outputs.dashboardUrl", "''")


def test_the_embedded_host_emulates_the_backend_these_settings_choose(main: BicepFile, tmp_path: Path) -> None:
    # The same app settings, given to the embedded host, make it emulate the scheduler (no long-timer chaining);
    # without them it emulates Azure Storage, as the deployment does by default.
    from embedded_host.functions.config import HostConfig

    settings = main.vars["durableTaskSchedulerSettings"].value
    (tmp_path / "host.json").write_text(json.dumps(HOST_JSON))
    chosen = {name: value for name, value in settings.items() if isinstance(value, str)}
    assert HostConfig.load(tmp_path, chosen).timer_limits is None
    assert HostConfig.load(tmp_path, {}).timer_limits is not None
