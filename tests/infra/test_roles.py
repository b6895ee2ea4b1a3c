"""The Function App identity gets exactly the data-plane roles the app needs, each on its resource.

Every assignment in modules/app-roles.bicep is read back as (role, scope resource type,
principal, condition) and compared with the set the app's triggers, bindings and providers need;
an extra role fails as surely as a missing one (least privilege).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.infra.bicep_text import BicepFile, Expr

# Built-in role definition ids (identical in every tenant).
BUILT_IN_ROLES = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Azure Service Bus Data Receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
    "Azure Service Bus Data Sender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
    "Azure Service Bus Data Owner": "090c5cfd-751d-490a-894a-3ce6f1109419",
    "EventGrid Data Sender": "d5a91429-5739-47e2-a06b-3470a27159e7",
    "Search Index Data Reader": "1407120a-92aa-4202-b7e9-c0e197c71c8f",
    "Search Index Data Contributor": "8ebe5a00-799e-43f5-93ac-243d3dce84a7",
    "Search Service Contributor": "7ca78c08-252a-4471-8644-bb5ff32d4ba0",
    "Cognitive Services OpenAI User": "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Durable Task Data Contributor": "0ad04412-c4d5-4796-b79c-f76d14c8d402",
    "Cognitive Services User": "a97b65f3-24c7-4388-baec-2e87135dc908",
}
_NAMES = {guid: name for name, guid in BUILT_IN_ROLES.items()}

# What the app's identity needs, and where: (role, type of the resource it is scoped to).
APP_ROLES = {
    # The host's leases and the Durable task hub (queues, tables, blobs); Blob Data Owner also
    # lets Flex Consumption read the deployment package.
    ("Storage Blob Data Owner", "Microsoft.Storage/storageAccounts"),
    ("Storage Queue Data Contributor", "Microsoft.Storage/storageAccounts"),
    ("Storage Table Data Contributor", "Microsoft.Storage/storageAccounts"),
    # start_pipeline_from_queue's trigger, and its output binding to the dead-letter queue; the monitor's
    # dead-letter feed peeks both queues (Listen, i.e. Data Receiver).
    ("Azure Service Bus Data Receiver", "Microsoft.ServiceBus/namespaces/queues"),
    ("Azure Service Bus Data Sender", "Microsoft.ServiceBus/namespaces/queues"),
    # publish_result, embed_query/generate_answer, search_documents, telemetry.
    ("EventGrid Data Sender", "Microsoft.EventGrid/topics"),
    ("Cognitive Services OpenAI User", "Microsoft.CognitiveServices/accounts"),
    ("Search Index Data Reader", "Microsoft.Search/searchServices"),
    ("Monitoring Metrics Publisher", "Microsoft.Insights/components"),
}
# Granted only when a parameter asks for it: exact queue-length scaling, and the task hub when it
# runs on the Durable Task Scheduler instead of the storage account.
OPTIONAL_APP_ROLES = {
    ("Azure Service Bus Data Owner", "Microsoft.ServiceBus/namespaces/queues"),
    ("Durable Task Data Contributor", "Microsoft.DurableTask/schedulers/taskHubs"),
}


@dataclass(frozen=True)
class Assignment:
    symbol: str
    role: str
    scope_symbol: str
    scope_type: str
    principal: str
    principal_type: str
    condition: str | None


def _assignments(file: BicepFile) -> list[Assignment]:
    resources = file.all_resources()
    roles_var = file.vars["roles"].value if "roles" in file.vars else {}
    found = []
    for symbol, resource in resources.items():
        if resource.type != "Microsoft.Authorization/roleAssignments":
            continue
        props = resource.body["properties"]
        match = re.fullmatch(
            r"subscriptionResourceId\('Microsoft\.Authorization/roleDefinitions',\s*(.+)\)", props["roleDefinitionId"]
        )
        assert match, f"{symbol}: roleDefinitionId must name a built-in role definition"
        ref = match.group(1).strip()
        guid = roles_var[ref.removeprefix("roles.")] if ref.startswith("roles.") else ref.strip("'")
        assert guid in _NAMES, f"{symbol}: {guid} is not a known built-in role"
        scope = resource.body.get("scope")
        assert isinstance(scope, Expr), f"{symbol}: every assignment is scoped to a resource, never the group"
        assert scope in resources, f"{symbol}: scope {scope} is not a resource of {file.path}"
        assert resources[scope].existing, f"{symbol}: scope {scope} should be an existing resource reference"
        # The assignment's name is a deterministic guid over scope, principal and role.
        assert str(resource.body["name"]).startswith(f"guid({scope}.id, principalId,"), symbol
        found.append(
            Assignment(
                symbol,
                _NAMES[guid],
                scope,
                resources[scope].type,
                props["principalId"],
                props.get("principalType", ""),
                resource.condition,
            )
        )
    return found


@pytest.fixture(scope="module")
def app_roles(templates: dict[str, BicepFile]) -> list[Assignment]:
    return _assignments(templates["modules/app-roles.bicep"])


def test_role_table_matches_the_templates(templates: dict[str, BicepFile]) -> None:
    for path in ("modules/app-roles.bicep", "modules/developer-roles.bicep"):
        for key, guid in templates[path].vars["roles"].value.items():
            assert guid in _NAMES, f"{path}: roles.{key} = {guid} is not a known built-in role"


def test_app_identity_has_exactly_the_roles_it_needs(app_roles: list[Assignment]) -> None:
    granted = {(a.role, a.scope_type) for a in app_roles if a.condition is None}
    conditional = {(a.role, a.scope_type) for a in app_roles if a.condition is not None}
    assert granted == APP_ROLES
    assert conditional == OPTIONAL_APP_ROLES


def test_every_app_role_goes_to_the_user_assigned_identity(
    templates: dict[str, BicepFile], main: BicepFile, app_roles: list[Assignment]
) -> None:
    for assignment in app_roles:
        assert assignment.principal == "principalId", assignment.symbol
        assert assignment.principal_type == "ServicePrincipal", assignment.symbol
    # principalId is the user-assigned identity's principal id ...
    call = next(m for m in main.modules.values() if m.path == "modules/app-roles.bicep")
    assert call.condition is None
    assert call.body["params"]["principalId"] == "identity.outputs.principalId"
    identity_module = templates[main.modules["identity"].path]
    identity = next(r for r in identity_module.resources.values() if not r.existing)
    assert identity.type == "Microsoft.ManagedIdentity/userAssignedIdentities"
    assert identity_module.outputs["principalId"].value == f"{identity.symbol}.properties.principalId"
    assert identity_module.outputs["clientId"].value == f"{identity.symbol}.properties.clientId"
    assert identity_module.outputs["id"].value == f"{identity.symbol}.id"
    # ... and that identity is the one the Function App runs as.
    assert main.modules["functionApp"].body["params"]["identityId"] == "identity.outputs.id"
    site_module = templates[main.modules["functionApp"].path]
    site = next(r for r in site_module.resources.values() if r.type == "Microsoft.Web/sites")
    assert site.body["identity"]["userAssignedIdentities"] == {"${identityId}": {}}


def test_service_bus_roles_are_scoped_to_their_queues(
    templates: dict[str, BicepFile], app_roles: list[Assignment]
) -> None:
    resources = templates["modules/app-roles.bicep"].all_resources()
    granted = {(a.role, resources[a.scope_symbol].body["name"]) for a in app_roles if "Service Bus" in a.role}
    assert granted == {
        ("Azure Service Bus Data Receiver", "queueName"),  # the trigger; peeking its $deadletterqueue
        ("Azure Service Bus Data Sender", "deadLetterQueueName"),  # the starter's output binding
        # GET /api/monitor/dead-letters peeks the app's dead-letter queue: peeking needs Listen.
        ("Azure Service Bus Data Receiver", "deadLetterQueueName"),
        ("Azure Service Bus Data Owner", "queueName"),
    }


def test_scaling_gets_the_manage_right_on_the_questions_queue_by_default(main: BicepFile) -> None:
    # Target-based scaling reads the queue length, which needs Manage (Data Owner); without it the
    # scale controller falls back to a coarser signal. The template defaults to what scaling needs.
    assert main.params["serviceBusOwnerForScaling"].value in (True, "true")


def test_the_function_app_waits_for_its_roles(main: BicepFile) -> None:
    assert "appRoles" in main.modules["functionApp"].body.get("dependsOn", [])


def test_developer_roles_are_optional_and_go_to_the_given_principal(
    templates: dict[str, BicepFile], main: BicepFile
) -> None:
    call = next(m for m in main.modules.values() if m.path == "modules/developer-roles.bicep")
    assert call.condition == "!empty(principalId)"
    assert call.body["params"]["principalId"] == "principalId"
    for assignment in _assignments(templates["modules/developer-roles.bicep"]):
        assert assignment.principal == "principalId"
        assert assignment.principal_type == "principalType"


def test_document_intelligence_is_opt_in_and_only_the_developer_may_call_it(
    templates: dict[str, BicepFile], main: BicepFile
) -> None:
    # `pipeline index` reads scanned PDFs with it under the developer's identity; the app never calls it.
    assert main.params["useDocumentIntelligence"].value in (False, "false")
    assert main.modules["documentIntelligence"].condition == "useDocumentIntelligence"
    developer = {(a.role, a.scope_type, a.condition) for a in _assignments(templates["modules/developer-roles.bicep"])}
    assert (
        "Cognitive Services User",
        "Microsoft.CognitiveServices/accounts",
        "!empty(documentIntelligenceAccountName)",
    ) in developer
    app = {a.role for a in _assignments(templates["modules/app-roles.bicep"])}
    assert "Cognitive Services User" not in app


def test_the_developer_may_read_and_write_the_provenance_tables_and_the_app_needs_no_new_role(
    templates: dict[str, BicepFile], main: BicepFile
) -> None:
    # `pipeline index` finds stale answers and records their events with the developer's identity.
    developer = {(a.role, a.scope_type, a.condition) for a in _assignments(templates["modules/developer-roles.bicep"])}
    assert ("Storage Table Data Contributor", "Microsoft.Storage/storageAccounts", None) in developer
    assert main.vars["appSettings"].value["PIPELINE_PROVENANCE_TABLE_ENDPOINT"] == Expr("storage.outputs.tableEndpoint")


def test_no_role_is_assigned_outside_the_role_modules(templates: dict[str, BicepFile]) -> None:
    for path, file in templates.items():
        if path in ("modules/app-roles.bicep", "modules/developer-roles.bicep"):
            continue
        kinds = {r.type for r in file.all_resources().values()}
        assert "Microsoft.Authorization/roleAssignments" not in kinds, path


def test_nobody_gets_owner_or_contributor(templates: dict[str, BicepFile]) -> None:
    broad = {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c"}
    for path, file in templates.items():
        text = (file.path.read_text(encoding="utf-8") if file.path else "").lower()
        assert not any(guid in text for guid in broad), path
