"""The Function App's settings: every one the app reads on Azure is set, from a resource, and none is a secret.

The names come from the app itself: `config.settings.Settings` (fields and their aliases) and the
`%NAME%` binding expressions and `connection` names of the triggers. Each setting is classified
once below; a new setting fails `test_every_app_setting_is_classified` until someone decides
whether Azure needs it.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices

from config.settings import Settings
from tests.infra.bicep_text import BicepFile, Expr, Interpolated

ROOT = Path(__file__).resolve().parents[2]

# Read by the app and needed on Azure: must be set, each from an output or a parameter.
NEEDED_ON_AZURE = {
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_EMBEDDING_DEPLOYMENT",
    "AZURE_OPENAI_CHAT_DEPLOYMENT",
    "AZURE_OPENAI_API_VERSION",
    "AZURE_SEARCH_ENDPOINT",
    "AZURE_SEARCH_INDEX",
    "EVENTGRID_TOPIC_ENDPOINT",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "PIPELINE_EVENT_SOURCE",
    "PIPELINE_QUEUE_NAME",
    "PIPELINE_DEAD_LETTER_QUEUE_NAME",
    "ServiceBusConnection__fullyQualifiedNamespace",
}
# Read by the app with defaults that serve on Azure too: may be set.
# (PIPELINE_FAULTS* inject failures to rehearse them: off unless someone sets them by hand.)
OPTIONAL = {
    "AZURE_SEARCH_SEMANTIC_CONFIGURATION",
    "PIPELINE_RECORD_CONTENT",
    "PIPELINE_SNIPPET_CHARS",
    "PIPELINE_FAULTS",
    "PIPELINE_FAULTS_SEED",
}
OPTIONAL_PREFIXES = ("PIPELINE_RETRY_",)
# Keys, connection strings and the embedded defaults' settings: must not be set on Azure.
LOCAL_ONLY = {
    "AZURE_OPENAI_API_KEY",
    "AZURE_SEARCH_API_KEY",
    # `pipeline index` reads scanned PDFs with Document Intelligence on the developer's machine; the app never does
    "AZURE_DOCUMENT_INTELLIGENCE_ENDPOINT",
    "AZURE_DOCUMENT_INTELLIGENCE_KEY",
    "EVENTGRID_TOPIC_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_CHAT_MODEL",
    "OPENAI_EMBEDDING_MODEL",
    "PIPELINE_ALLOWED_HOSTS",
    "PIPELINE_ANN_THRESHOLD",
    "PIPELINE_DATA_DIR",
    "PIPELINE_DURABILITY",  # the embedded host's SQLite files; Azure's Durable backend keeps its own state
    "PIPELINE_EVENT_WEBHOOKS",
    "PIPELINE_EVENT_RETRY_WINDOW_S",
    "PIPELINE_EXPORT_KEY",  # `pipeline export` reads these on the machine that exports, not in the app
    "PIPELINE_EXPORT_URL",
    "PIPELINE_LOCAL_EMBEDDER",
    "PIPELINE_RETENTION_DAYS",  # the embedded host's purge; on Azure, the Durable backend's own retention
    "ServiceBusConnection",
}
# Read by the Functions host, the Durable extension and the Azure SDKs rather than by the app.
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "ServiceBusConnection__credential",
    "ServiceBusConnection__clientId",
    "AZURE_CLIENT_ID",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "OTEL_SERVICE_NAME",
}
# Literal values allowed in app settings (everything else comes from an output or a parameter).
ALLOWED_LITERALS = {"managedidentity", "durable-ai-pipeline"}


def _setting_names() -> set[str]:
    """The environment names `Settings` reads: the first alias where one is given, else the field name."""
    names = set()
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.add(str(alias.choices[0]))
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(field_name.upper())
    return names


def _binding_settings() -> set[str]:
    """Settings named by the triggers' binding expressions and connections."""
    names: set[str] = set()
    for path in (ROOT / "triggers").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        names.update(re.findall(r"%([A-Za-z_][A-Za-z0-9_]*)%", text))
        for connection in re.findall(r"CONNECTION\s*=\s*\"([A-Za-z_][A-Za-z0-9_]*)\"", text):
            names.add(f"{connection}__fullyQualifiedNamespace")
    return names


def _app_settings(main: BicepFile) -> dict[str, object]:
    return main.vars["appSettings"].value


def test_binding_settings_are_found() -> None:
    assert {
        "PIPELINE_QUEUE_NAME",
        "PIPELINE_DEAD_LETTER_QUEUE_NAME",
        "ServiceBusConnection__fullyQualifiedNamespace",
    } <= _binding_settings()


def test_every_app_setting_is_classified() -> None:
    known = NEEDED_ON_AZURE | OPTIONAL | LOCAL_ONLY
    unclassified = {
        name
        for name in _setting_names() | _binding_settings()
        if name not in known and not name.startswith(OPTIONAL_PREFIXES)
    }
    assert not unclassified, f"decide whether Azure needs these settings: {sorted(unclassified)}"


def test_every_setting_needed_on_azure_is_set(main: BicepFile) -> None:
    needed = {n for n in _setting_names() | _binding_settings() if n in NEEDED_ON_AZURE}
    assert needed == NEEDED_ON_AZURE
    missing = needed - set(_app_settings(main))
    assert not missing, f"not set on the Function App: {sorted(missing)}"


def test_no_local_only_setting_is_set(main: BicepFile) -> None:
    names = {n.lower() for n in _app_settings(main)}
    assert not {n for n in LOCAL_ONLY if n.lower() in names}


def test_no_unknown_setting_is_set(main: BicepFile) -> None:
    known = NEEDED_ON_AZURE | OPTIONAL | HOST_SETTINGS
    unknown = {n for n in _app_settings(main) if n not in known and not n.startswith(OPTIONAL_PREFIXES)}
    assert not unknown, f"settings nothing reads (a typo?): {sorted(unknown)}"


def test_flex_consumption_settings_are_left_to_function_app_config(main: BicepFile) -> None:
    # Flex Consumption rejects these: the runtime is set in functionAppConfig.
    for name in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"):
        assert name not in _app_settings(main)


def _sources(value: object) -> list[str]:
    if isinstance(value, Interpolated):
        return re.findall(r"\$\{([^}]*)\}", value)
    if isinstance(value, Expr):
        return [str(value)]
    return []


def test_each_value_comes_from_an_output_or_a_parameter(templates: dict[str, BicepFile], main: BicepFile) -> None:
    for name, value in _app_settings(main).items():
        if isinstance(value, str) and not isinstance(value, (Expr, Interpolated)):
            assert value in ALLOWED_LITERALS, f"{name} is a hard-coded literal {value!r}"
            continue
        sources = _sources(value)
        assert sources, f"{name}: {value!r}"
        for source in sources:
            output = re.fullmatch(r"([A-Za-z_]\w*)\.outputs\.([A-Za-z_]\w*)", source)
            if output:
                module = templates[main.modules[output.group(1)].path]
                assert output.group(2) in module.outputs, f"{name}: {source} is not an output"
            else:
                assert source in main.params, f"{name}: {source} is neither a module output nor a parameter"


def test_identity_based_connections_use_the_apps_identity(main: BicepFile) -> None:
    settings = _app_settings(main)
    client_id = "identity.outputs.clientId"
    assert settings["AZURE_CLIENT_ID"] == client_id
    for connection in ("AzureWebJobsStorage", "ServiceBusConnection"):
        assert settings[f"{connection}__credential"] == "managedidentity"
        assert settings[f"{connection}__clientId"] == client_id
    assert settings["AzureWebJobsStorage__accountName"] == "storage.outputs.name"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == f"Authorization=AAD;ClientId=${{{client_id}}}"


def test_the_settings_reach_the_function_app(templates: dict[str, BicepFile], main: BicepFile) -> None:
    # appSettings as they are on the default backend; the Durable Task Scheduler's settings are added
    # to them only when it is chosen (tests/infra/test_durable_backend.py).
    assert main.modules["functionApp"].body["params"]["appSettings"] == "siteSettings"
    assert main.vars["siteSettings"].value == (
        "useDurableTaskScheduler ? union(appSettings, durableTaskSchedulerSettings) : appSettings"
    )
    site_module = templates[main.modules["functionApp"].path]
    config = site_module.all_resources()["site::settings"]
    assert config.type == "Microsoft.Web/sites/config"
    assert config.body == {"name": "appsettings", "properties": "appSettings"}


def test_no_secret_anywhere_in_the_templates(templates: dict[str, BicepFile]) -> None:
    forbidden = re.compile(
        r"listKeys|listConnectionStrings|listSecrets|listAdminKeys|listQueryKeys|AccountKey=|SharedAccessKey|"
        r"primaryKey|secondaryKey|@secure",
        re.IGNORECASE,
    )
    for path, file in templates.items():
        assert file.path is not None
        match = forbidden.search(file.path.read_text(encoding="utf-8"))
        assert not match, f"{path} mentions {match.group()!r}" if match else ""


def test_no_setting_is_named_like_a_secret(main: BicepFile) -> None:
    for name in _app_settings(main):
        upper = name.upper()
        assert not upper.endswith(("_KEY", "_API_KEY", "_SECRET", "_PASSWORD")), name
        assert upper not in ("AZUREWEBJOBSSTORAGE", "SERVICEBUSCONNECTION"), f"{name} would hold a connection string"


def test_settings_needed_on_azure_are_also_outputs(main: BicepFile) -> None:
    """azd writes outputs to the environment, so the CLI and a local host can use the deployment."""
    settings = _app_settings(main)
    for name in NEEDED_ON_AZURE:
        assert name in main.outputs, f"output {name} is missing"
        assert main.outputs[name].value == settings[name], f"output {name} differs from the app setting"
