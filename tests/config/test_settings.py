"""Settings are whole or refused: half a service's configuration is a one-line error, never a quiet fallback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from activities._step import ActivityFailed, run_step
from cli.main import main
from config import Settings, SettingsError, get_settings
from contracts import ErrorKind, StepInput
from providers.plan import ProviderPlan

_SERVICE_VARIABLES = [
    name.upper() for name in Settings.model_fields if name.startswith(("azure_", "openai_", "eventgrid_"))
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _SERVICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com"}, "AZURE_OPENAI_EMBEDDING_DEPLOYMENT"),
        ({"AZURE_OPENAI_CHAT_DEPLOYMENT": "gpt"}, "AZURE_OPENAI_ENDPOINT"),
        ({"AZURE_OPENAI_API_KEY": "k"}, "AZURE_OPENAI_ENDPOINT"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, "OPENAI_CHAT_MODEL"),
        ({"OPENAI_EMBEDDING_MODEL": "nomic"}, "OPENAI_BASE_URL"),
        ({"AZURE_SEARCH_ENDPOINT": "https://s.search.windows.net"}, "AZURE_SEARCH_INDEX"),
        ({"AZURE_SEARCH_INDEX": "docs"}, "AZURE_SEARCH_ENDPOINT"),
        ({"EVENTGRID_TOPIC_KEY": "k"}, "EVENTGRID_TOPIC_ENDPOINT"),
        ({"AZURE_DOCUMENT_INTELLIGENCE_KEY": "k"}, "AZURE_DOCUMENT_INTELLIGENCE_ENDPOINT"),
    ],
)
def test_half_a_service_is_refused_naming_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, str], named: str
) -> None:
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        get_settings()
    message = str(refused.value)
    assert named in message and "\n" not in message


@pytest.mark.parametrize(
    ("given", "role", "backend"),
    [
        (
            {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "AZURE_OPENAI_CHAT_DEPLOYMENT": "gpt"},
            "generation",
            "azure-openai",
        ),
        (
            {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "OPENAI_EMBEDDING_MODEL": "m"},
            "embeddings",
            "openai-compatible",
        ),
        (
            {"AZURE_SEARCH_ENDPOINT": "https://s.search.windows.net", "AZURE_SEARCH_INDEX": "d"},
            "retrieval",
            "azure-ai-search",
        ),
        ({"EVENTGRID_TOPIC_ENDPOINT": "https://t.eventgrid.azure.net/api/events"}, "events", "event-grid"),
        ({"OPENAI_API_KEY": "sk-for-other-tools"}, "generation", "local"),  # a key alone chooses nothing
    ],
)
def test_a_whole_service_is_planned(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, str], role: str, backend: str
) -> None:
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    assert getattr(ProviderPlan.from_settings(get_settings()), role).backend == backend


def test_a_malformed_value_names_its_setting_and_not_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_SNIPPET_CHARS", "secret-looking-value")
    with pytest.raises(SettingsError) as refused:
        get_settings()
    assert "PIPELINE_SNIPPET_CHARS" in str(refused.value)
    assert "secret-looking-value" not in str(refused.value) and "\n" not in str(refused.value)


def test_the_cli_refuses_half_a_service_in_one_line_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com")
    assert main(["ask", "How are failed steps retried?"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pipeline: error: AZURE_OPENAI_ENDPOINT is set") and err.count("\n") == 1


def test_a_step_that_meets_a_bad_setting_fails_as_configuration_without_retry() -> None:
    def work(_: StepInput) -> StepInput:
        raise SettingsError("AZURE_SEARCH_INDEX is set but AZURE_SEARCH_ENDPOINT is not")

    with pytest.raises(ActivityFailed) as failed:
        run_step("search_documents", StepInput, {"instance_id": "i", "attempt": 1}, work)
    assert ErrorKind.CONFIGURATION.value in str(failed.value)
    assert "AZURE_SEARCH_ENDPOINT" in str(failed.value)


def test_variables_are_read_by_name_or_alias_in_any_case_and_an_empty_one_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("servicebusconnection__FULLYQUALIFIEDNAMESPACE", "ns.servicebus.windows.net")
    monkeypatch.setenv("Pipeline_Snippet_Chars", "300")
    monkeypatch.setenv("PIPELINE_RETRY_MAX_ATTEMPTS", "")  # set but empty: the default stands
    monkeypatch.setenv("PIPELINE_LOCAL_EMBEDDER", " HASH ")
    settings = Settings()
    assert settings.service_bus_namespace == "ns.servicebus.windows.net"
    assert settings.pipeline_snippet_chars == 300 and settings.pipeline_retry_max_attempts == 3
    assert settings.pipeline_local_embedder == "hash"
    assert Settings(pipeline_snippet_chars=500).pipeline_snippet_chars == 500  # given values win
