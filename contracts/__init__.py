"""Pydantic models of everything that crosses a boundary: HTTP, queue, activities, events.

This package imports nothing from providers, triggers, activities or any Azure SDK, so every
other package can depend on it and it can be published as the producer/subscriber contract.
"""

from contracts.activities import (
    EmbedQueryInput,
    GenerateAnswerInput,
    GeneratedAnswer,
    PassageRef,
    PublishedEvent,
    PublishResultInput,
    QueryEmbedding,
    SearchDocumentsInput,
    SearchHit,
    SearchResults,
    StepInput,
)
from contracts.errors import ErrorKind, StepError
from contracts.events import (
    COMPLETED_EVENT_TYPE,
    EVENT_TYPES,
    FAILED_EVENT_TYPE,
    STALE_EVENT_TYPE,
    FailedEventData,
    StaleEventData,
    StalePassage,
    event_id_for,
    stale_event_id,
)
from contracts.http import FieldProblem, ProblemDetails, Staleness, StartResponse, StatusResponse
from contracts.pipeline import PipelineInput, RetryPolicy, StepName
from contracts.question import Question
from contracts.result import Citation, Result, Usage
from contracts.scopes import MAX_SCOPES, InvalidScope, ScopeName, check_scope_name, normalise_scopes

__all__ = [
    "COMPLETED_EVENT_TYPE",
    "EVENT_TYPES",
    "FAILED_EVENT_TYPE",
    "MAX_SCOPES",
    "STALE_EVENT_TYPE",
    "Citation",
    "EmbedQueryInput",
    "ErrorKind",
    "FailedEventData",
    "FieldProblem",
    "GenerateAnswerInput",
    "GeneratedAnswer",
    "InvalidScope",
    "PassageRef",
    "PipelineInput",
    "ProblemDetails",
    "PublishResultInput",
    "PublishedEvent",
    "QueryEmbedding",
    "Question",
    "Result",
    "RetryPolicy",
    "ScopeName",
    "SearchDocumentsInput",
    "SearchHit",
    "SearchResults",
    "StaleEventData",
    "StalePassage",
    "Staleness",
    "StartResponse",
    "StatusResponse",
    "StepError",
    "StepInput",
    "StepName",
    "Usage",
    "check_scope_name",
    "event_id_for",
    "normalise_scopes",
    "stale_event_id",
]
