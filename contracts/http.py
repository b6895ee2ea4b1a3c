"""HTTP response bodies: the start response, the status view and RFC 9457 problem details."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.result import Result

__all__ = ["FieldProblem", "ProblemDetails", "Staleness", "StartResponse", "StatusResponse"]


class StartResponse(BaseModel):
    """202 body of the starters: where to watch the run (the Durable management URLs included)."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    status: str = Field(
        description="Runtime status when answered: Pending/Running for a new run, else the existing run's."
    )
    created: bool = Field(description="False when the id already existed and the existing run is returned.")
    status_url: str = Field(description="GET /api/pipeline/{instance_id}")
    status_query_get_uri: str
    send_event_post_uri: str | None = None
    terminate_post_uri: str | None = None
    purge_history_delete_uri: str | None = None


class Staleness(BaseModel):
    """A completed answer that cited a passage changed or removed since (its Stale event)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(description="The id of the `DurableAIPipeline.Answer.Stale` event.")
    detected_at: str
    sources: list[str] = Field(description="The documents that changed or went.")
    superseded_by: str | None = Field(default=None, description="The newer run that answers the question again.")
    published: bool = Field(description="Whether the Stale event is out (false: pending, sent by the next re-index).")


class StatusResponse(BaseModel):
    """200 body of `GET /api/pipeline/{instance_id}`."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    runtime_status: str
    step: str | None = Field(default=None, description="The step running now, or the last one.")
    attempt: int | None = None
    created_time: str | None = None
    last_updated_time: str | None = None
    result: Result | None = None
    error: str | None = Field(default=None, description="Why the run failed, when it did.")
    stale: Staleness | None = Field(
        default=None, description="Present when the answer cited a passage that has changed or gone since."
    )


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="Dotted path of the offending field; empty for the body itself.")
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def of(cls, status: int, title: str, detail: str | None = None, **extra: Any) -> ProblemDetails:
        return cls(status=status, title=title, detail=detail, **extra)
