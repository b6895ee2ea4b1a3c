"""Builds the provider of each role that the process's `ProviderPlan` names (see `providers.plan`).

Azure services are used when their settings are present, otherwise the embedded default.
Providers are built lazily on first use (never at import) and shared by the process's
activities; SDK modules are imported only when their provider is chosen.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Generic, TypeVar

from config import Settings, get_settings
from providers.base import AnswerGenerator, Embedder, EventPublisher, Passage, QuestionQueue, Retriever
from providers.errors import ProviderError
from providers.plan import ProviderPlan
from providers.provenance import ProvenanceStore

if TYPE_CHECKING:
    from ingestion.ingest import IngestReport, Progress
    from providers.local.extractive import ExtractiveAnswerer
    from providers.local.sqlite_index import Preparer, SqliteIndex

__all__ = [
    "cited_passages",
    "describe_providers",
    "get_embedder",
    "get_generator",
    "get_provenance",
    "get_publisher",
    "get_retriever",
    "load_model_in_background",
    "load_models_in_background",
    "open_question_queue",
    "prepare_local_index",
    "prepare_local_index_in_background",
    "prepare_local_index_when_opened",
    "provider_plan",
    "reset",
    "shutdown",
    "wait_for_background_preparation",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
_announce_lock = threading.Lock()
_announced = False
_build_lock = threading.RLock()  # re-entrant: building the retriever builds the embedder


class _BuiltOnce(Generic[T]):
    """A provider built on first call and then shared; built at most once when threads ask together (a
    second MiniLM session is another 300 MB)."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: list[T] = []  # empty, or the one provider
        self.__doc__ = build.__doc__

    def __call__(self) -> T:
        if not self._built:
            with _build_lock:
                if not self._built:
                    self._built.append(self._build())
        return self._built[0]

    def built(self) -> T | None:
        """The provider if it was built, else None (without building it)."""
        return self._built[0] if self._built else None

    def forget(self) -> None:
        self._built.clear()


def provider_plan(settings: Settings | None = None) -> ProviderPlan:
    """The backend of each role under these settings (this process's plan, resolved once, by default)."""
    return ProviderPlan.from_settings(settings) if settings is not None else _plan()


@lru_cache(maxsize=1)
def _plan() -> ProviderPlan:
    return ProviderPlan.from_settings(get_settings())


def describe_providers(settings: Settings | None = None) -> dict[str, str]:
    """Which provider serves each role under these settings (this process's settings by default)."""
    return provider_plan(settings).labels()


def _with_faults(provider: T, role: str) -> T:
    """Wrap the provider in the fault injector when `PIPELINE_FAULTS` has a rule for its role."""
    s = get_settings()
    if not s.pipeline_faults:
        return provider
    from providers.faults import Faulty, parse_faults

    rule = parse_faults(s.pipeline_faults).get(role)
    if rule is None:
        return provider
    log.warning("fault injection on %s: %s %.0f%%", role, rule.kind, rule.rate * 100)
    return Faulty(provider, role, rule, seed=s.pipeline_faults_seed)  # type: ignore[return-value]


def _announce() -> None:
    """One log line per process saying which provider serves each role."""
    global _announced
    with _announce_lock:
        if not _announced:
            _announced = True
            log.info("providers: %s", ", ".join(f"{k}={v}" for k, v in describe_providers().items()))


@_BuiltOnce
def _embedder() -> Embedder:
    """The configured embedder itself, without injected faults (the local index is built with it)."""
    s, plan = get_settings(), _plan().embeddings
    if plan.openai:
        from providers.azure.openai_embedder import OpenAIEmbedder

        return OpenAIEmbedder.from_settings(s, plan)
    if plan.target == "hash":
        from providers.local.hashing_embedder import HashingEmbedder

        return HashingEmbedder()
    from providers.local.minilm_embedder import MiniLMEmbedder

    return MiniLMEmbedder()


@_BuiltOnce
def get_embedder() -> Embedder:
    _announce()
    return _with_faults(_embedder(), "embeddings")


@_BuiltOnce
def _retriever() -> Retriever:
    """The configured retriever itself, without injected faults (provenance reads passages through it)."""
    s = get_settings()
    if _plan().retrieval.backend == "azure-ai-search":
        from providers.azure.search_retriever import AzureSearchRetriever

        return AzureSearchRetriever.from_settings(s)
    return open_local_index(s)


@_BuiltOnce
def get_retriever() -> Retriever:
    _announce()
    return _with_faults(_retriever(), "retrieval")


@_BuiltOnce
def get_provenance() -> ProvenanceStore | None:
    """Where published answers' citations are kept: SQLite beside the local index, Azure Table Storage when
    `PIPELINE_PROVENANCE_TABLE_ENDPOINT` is set; None on Azure AI Search without it (nothing is recorded)."""
    s = get_settings()
    if s.pipeline_provenance_table_endpoint:
        from providers.azure.table_provenance import TableProvenanceStore

        return TableProvenanceStore.from_settings(s)
    if _plan().retrieval.backend == "azure-ai-search":
        return None
    from providers.local.provenance_store import SqliteProvenanceStore

    return SqliteProvenanceStore.in_index_dir(s.pipeline_data_dir / "index")


def cited_passages(ids: Sequence[str], *, scopes: Sequence[str]) -> list[Passage]:
    """The cited passages' text as the index holds it now, read past any injected retrieval fault."""
    return _retriever().fetch(ids, scopes=scopes)


def _sqlite_index(s: Settings) -> SqliteIndex:
    """The local index file of these settings, with the configured embedder and the answerer's preparer."""
    from providers.local.sqlite_index import SqliteIndex

    return SqliteIndex(
        s.pipeline_data_dir / "index",
        embedder=_embedder(),
        ann_threshold=s.pipeline_ann_threshold,
        preparer=index_preparer(),
    )


def open_local_index(s: Settings) -> Retriever:
    """The local index for the configured embedder; built from the sample corpus on first use."""
    from providers.local.sample_index import ensure_sample_index

    index = _sqlite_index(s)
    ensure_sample_index(index, _embedder())
    if _prepare_when_opened.is_set():
        prepare_local_index_in_background()
    return index


def check_local_index() -> None:
    """Refuse a local index file that is not one (`ProviderError` naming the file) without building it."""
    from providers.local.sqlite_index import check_index_file

    if _plan().retrieval.backend != "azure-ai-search":
        check_index_file(get_settings().pipeline_data_dir / "index")


def index_preparer() -> Preparer | None:
    """The local answerer when it answers, so the local index embeds its sentences at index time."""
    return _local_answerer() if _plan().generation.backend == "local" else None


def prepare_local_index(progress: Progress | None = None) -> IngestReport | None:
    """Build the sample index now, reporting progress, if the local index is empty (the CLI's first run).

    The retriever would build it on first use anyway, silently; None when there was nothing to build.
    """
    from providers.local.sample_index import ensure_sample_index

    s = get_settings()
    if _plan().retrieval.backend == "azure-ai-search":
        return None
    with _sqlite_index(s) as index:
        return ensure_sample_index(index, _embedder(), progress=progress)


# Chunks the background preparation takes on: the sample corpus (91) and other small indexes, about a minute
# of MiniLM here at most. A larger index from before index-time preparation is prepared by its next
# `pipeline index`; until then each question embeds the sentences it reads.
_BACKGROUND_CHUNKS = 2_000
_background_stop = threading.Event()
_background: list[threading.Thread] = []
_prepare_when_opened = threading.Event()


def prepare_local_index_when_opened() -> None:
    """For a long-running host (`pipeline serve`): once the local index is first opened, by the first
    question, start `prepare_local_index_in_background`. A host that is never asked anything spends nothing."""
    _prepare_when_opened.set()


def wait_for_background_preparation() -> None:
    """Until the background preparation started so far has ended (a benchmark measures once it is done)."""
    with _build_lock:
        threads = list(_background)
    for thread in threads:
        thread.join()


def prepare_local_index_in_background() -> threading.Thread | None:
    """For a long-running host: in a thread, build the sample index if the local index is empty, then hand the
    chunks never prepared for the local answerer (the shipped sample index's) to it, a few at a time.

    Questions meanwhile share the model's passes with it, and embed what they read that is not ready yet.
    `reset` (and `shutdown`) stop it between pages; what it stored is kept. None when there is nothing to do.
    """
    if _plan().retrieval.backend == "azure-ai-search" or index_preparer() is None:
        return None
    from providers.local.sample_index import ensure_sample_index

    s = get_settings()

    def prepare() -> None:
        try:
            with _sqlite_index(s) as index:
                ensure_sample_index(index, _embedder())
                if index.chunk_count() <= _BACKGROUND_CHUNKS:
                    index.prepare_missing(page=8, stop=_background_stop)
        except ProviderError as error:  # the questions will say it, through the pipeline
            log.warning("preparing the local index in the background failed: %s", error.message)

    thread = threading.Thread(target=prepare, name="prepare-local-index", daemon=True)
    with _build_lock:
        _background.append(thread)
    thread.start()
    return thread


def load_model_in_background() -> threading.Thread:
    """For a process about to answer at once (`pipeline ask`), as early as the settings allow: in a thread, load
    the local model. Its session is the longest part of the load and runs mostly outside the GIL, so it goes on
    beside the imports; no index is opened here (`load_models_in_background` builds the steps' providers once
    the state folder is ready)."""

    def load() -> None:
        try:
            _load_local_model()
        except Exception as error:  # a head start only: the step that needs the model meets this again
            log.debug("loading the local model ahead of the steps failed: %s", error)

    return _start_loading("load-model", load)


def load_models_in_background() -> threading.Thread:
    """For a process about to answer at once (`pipeline ask`): in a thread, build the providers of the steps
    and load the local model, while the host starts. The steps wait for what is still loading; a provider
    that cannot be built says so when its step asks for it, as without this."""

    def load() -> None:
        try:
            get_retriever()  # and the embedder, which the index is opened with
            get_generator()
            _load_local_model()
        except Exception as error:  # a head start only: the step that needs the provider meets this again
            log.debug("loading the providers ahead of the steps failed: %s", error)

    return _start_loading("load-models", load)


def _load_local_model() -> None:
    """Load the configured embedder's model now when it is the local MiniLM (a no-op once it is loaded)."""
    embedder = _embedder()
    from providers.local.minilm_embedder import MiniLMEmbedder

    if isinstance(embedder, MiniLMEmbedder):
        embedder.load()


def _start_loading(name: str, load: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=load, name=name, daemon=True)
    with _build_lock:
        _background.append(thread)
    thread.start()
    return thread


@_BuiltOnce
def get_generator() -> AnswerGenerator:
    _announce()
    s, plan = get_settings(), _plan().generation
    if plan.openai:
        from providers.azure.openai_chat import OpenAIChatGenerator

        return _with_faults(OpenAIChatGenerator.from_settings(s, plan), "generation")
    return _with_faults(_local_answerer(), "generation")


@_BuiltOnce
def _local_answerer() -> ExtractiveAnswerer:
    """The local answerer itself, without injected faults: it answers, and prepares what the local index writes."""
    return local_answerer(get_settings())


def local_answerer(s: Settings) -> ExtractiveAnswerer:
    """The extractive answerer, reading meaning with MiniLM (lexical-only weights when it is not installed)."""
    from providers.local.extractive import ExtractiveAnswerer
    from providers.local.minilm_embedder import MiniLMEmbedder
    from providers.local.sample_index import SHIPPED_SENTENCES
    from providers.local.sentence_vectors import SentenceVectors

    embedder = _embedder()
    try:
        # Share the retrieval embedder's session when it is MiniLM: a second one is another 300 MB.
        model = embedder if isinstance(embedder, MiniLMEmbedder) else MiniLMEmbedder()
    except ProviderError as error:
        log.warning("local answerer without a sentence model (%s): lexical matching only", error.message)
        return ExtractiveAnswerer()
    # The state folder's own file first, then the bundled corpus's sentences, shipped beside its index.
    kept = s.pipeline_data_dir / "index" / "sentence-vectors.sqlite"
    return ExtractiveAnswerer(SentenceVectors(model, kept, shipped=SHIPPED_SENTENCES))


@_BuiltOnce
def get_publisher() -> EventPublisher:
    _announce()
    s = get_settings()
    if _plan().events.backend == "event-grid":
        from providers.azure.eventgrid_publisher import EventGridPublisher

        return _with_faults(EventGridPublisher.from_settings(s), "events")
    from providers.local.events import LocalEventSink

    return _with_faults(LocalEventSink.from_settings(s), "events")


def open_question_queue(settings: Settings | None = None) -> QuestionQueue:
    """The question queue under these settings (this process's by default); the caller closes it."""
    s = settings or get_settings()
    if provider_plan(s).queue.backend == "service-bus":
        from providers.azure.service_bus import ServiceBusQueue

        return ServiceBusQueue(s)
    from providers.local.question_queue import LocalQuestionQueue

    return LocalQuestionQueue(s)


def reset() -> None:
    """Close and forget built providers and settings (tests, or after settings change in-process)."""
    global _announced
    _background_stop.set()  # before the providers it uses are closed
    with _build_lock:
        threads, _background[:] = list(_background), []
    for thread in threads:
        thread.join()
    _background_stop.clear()
    _prepare_when_opened.clear()
    _plan.cache_clear()
    for cached in (
        get_embedder,
        _embedder,
        get_retriever,
        _retriever,
        get_generator,
        _local_answerer,
        get_publisher,
        get_provenance,
    ):
        close = getattr(cached.built(), "close", None)
        if callable(close):
            close()
        cached.forget()
    if "providers.azure.credentials" in sys.modules:  # only if an Azure provider ever built one
        from providers.azure.credentials import close_default_credential

        close_default_credential()
    get_settings.cache_clear()
    _announced = False


def shutdown(*, flush_timeout_s: float = 5.0) -> int:
    """Before a short-lived process exits: give pending event deliveries `flush_timeout_s`, then close all.

    Returns how many deliveries are still pending (local webhooks; they resume in the next process).
    """
    pending = 0
    publisher = get_publisher.built()
    if publisher is not None:
        flush = getattr(publisher, "flush", None)
        if callable(flush) and not flush(flush_timeout_s):
            count = getattr(publisher, "pending", None)
            pending = count() if callable(count) else 0
    reset()
    return pending
