"""The `ProvenanceStore` on Azure Table Storage, in the Functions app's own storage account.

Why Table Storage rather than Cosmos DB: the deployment already has the account (the Functions host needs
it), so provenance adds no resource, no minimum charge and no second network path; each question this store
answers is a point lookup or one partition (by chunk id, by source, by instance id), which is what Table
Storage serves in milliseconds at any size; and the identity gets one data-plane role on an account it
already uses (*Storage Table Data Contributor*). Cosmos DB would add secondary indexes and change feed,
which nothing here needs, for a separate account with its own RBAC and a cost floor.

Tables (named `{prefix}...`, `PIPELINE_PROVENANCE_TABLE_PREFIX`, default `pipeline`):

| table | PartitionKey | RowKey | answers |
|---|---|---|---|
| `Answers` | instance id | `answer` | the question, scopes, metadata and citations of one answer |
| `Citations` | chunk id | instance id | "which answers cited this chunk?" (one partition) |
| `CitationsBySource` | source | instance id + cited chunk | a re-indexed source's live citations |
| `Changing` | `changing` | source | the intent log of a re-index |
| `Findings` | `findings` | instance id + chunk id | what a re-index found, until sealed |
| `StaleEvents` | instance id | event id | an answer's Stale events (status, monitor) |
| `StalePending` | `pending` | created time + event id | the outbox of Stale events not yet published |

Table Storage has no transaction across partitions, so every write is an upsert or a delete of a known
key, ordered so that a crash between two of them is repaired by doing the whole step again (the
intent mark goes last; a finding before the citation it stales).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from providers.azure.credentials import LazyClient, default_credential
from providers.azure.errors import translating
from providers.base import Closing
from providers.provenance import AnswerRecord, CitedPassage, Finding, PendingStale, StaleMark

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient

    from config.settings import Settings

__all__ = ["TableProvenanceStore", "key"]

_SERVICE = "table storage"
_TABLES = ("Answers", "Citations", "CitationsBySource", "Changing", "Findings", "StaleEvents", "StalePending")
_SEP = "|"


def key(value: str) -> str:
    """A PartitionKey/RowKey for any text: Table keys refuse '/', '\\', '#', '?' and control characters."""
    return quote(value, safe="")


def _odata(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class TableProvenanceStore(Closing):
    """`ProvenanceStore` on Azure Table Storage (or Azurite); tables are created on first use."""

    _service = _SERVICE

    def __init__(self, endpoint: str, *, account_key: str | None = None, prefix: str = "pipeline") -> None:
        self._endpoint = endpoint.rstrip("/")
        self._account_key = account_key
        self._prefix = prefix
        self._client: LazyClient[TableServiceClient] = LazyClient(self._build)
        self._tables: dict[str, TableClient] = {}
        self._pending_keys: dict[str, tuple[str, str]] = {}  # event id -> (pending RowKey, instance id)

    @classmethod
    def from_settings(cls, settings: Settings) -> TableProvenanceStore:
        assert settings.pipeline_provenance_table_endpoint
        secret = settings.pipeline_provenance_table_key
        return cls(
            settings.pipeline_provenance_table_endpoint,
            account_key=secret.get_secret_value() if secret else None,
            prefix=settings.pipeline_provenance_table_prefix,
        )

    def _build(self) -> TableServiceClient:
        from azure.core.credentials import AzureNamedKeyCredential
        from azure.data.tables import TableServiceClient

        if self._account_key:
            parts = urlsplit(self._endpoint)
            # Azurite puts the account in the path (http://127.0.0.1:10002/devstoreaccount1); Azure in the host.
            account = parts.path.strip("/").split("/")[0] or parts.hostname.split(".")[0]  # type: ignore[union-attr]
            credential: Any = AzureNamedKeyCredential(account, self._account_key)
        else:
            credential = default_credential()  # the app's managed identity: Storage Table Data Contributor
        return TableServiceClient(endpoint=self._endpoint, credential=credential)

    def _table(self, name: str) -> TableClient:
        table = self._tables.get(name)
        if table is None:
            service = self._client.get()
            for each in _TABLES:  # all at once: the first call of a process pays for them
                with translating(_SERVICE):
                    service.create_table_if_not_exists(self._prefix + each)
                self._tables[each] = service.get_table_client(self._prefix + each)
            table = self._tables[name]
        return table

    def _upsert(self, name: str, entities: Iterable[Mapping[str, Any]]) -> None:
        table = self._table(name)
        with translating(_SERVICE):
            for entity in entities:
                table.upsert_entity(dict(entity))

    def _delete(self, name: str, keys: Iterable[tuple[str, str]]) -> None:
        table = self._table(name)
        with translating(_SERVICE):
            for partition, row in keys:
                table.delete_entity(partition, row)  # no error when it is already gone

    def _query(self, name: str, query: str, *, select: list[str] | None = None) -> list[dict[str, Any]]:
        table = self._table(name)
        with translating(_SERVICE):
            return [dict(e) for e in table.query_entities(query, select=select)]

    def _get(self, name: str, partition: str, row: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        table = self._table(name)
        try:
            with translating(_SERVICE):
                return dict(table.get_entity(partition, row))
        except Exception as error:  # not found is an answer, not an error
            if isinstance(error.__cause__, ResourceNotFoundError):
                return None
            raise

    # -- answers ------------------------------------------------------------------------------

    def record_answer(self, record: AnswerRecord) -> None:
        cited = list({c.chunk_id: c for c in record.citations}.values())
        self._upsert(
            "Answers",
            [
                {
                    "PartitionKey": record.instance_id,
                    "RowKey": "answer",
                    "question": record.question,
                    "scopes": json.dumps(list(record.scopes)),
                    "metadata": json.dumps(dict(record.metadata)) if record.metadata else "",
                    "answered_at": record.answered_at,
                    "citations": json.dumps([[c.chunk_id, c.content_hash, c.source, c.page] for c in cited]),
                }
            ],
        )
        for c in cited:
            row = {"cited_id": c.chunk_id, "content_hash": c.content_hash, "source": c.source, "page": c.page}
            self._upsert(
                "Citations", [{"PartitionKey": c.chunk_id, "RowKey": record.instance_id, **row, "stale": False}]
            )
            self._upsert(
                "CitationsBySource",
                [
                    {
                        "PartitionKey": key(c.source),
                        "RowKey": record.instance_id + _SEP + c.chunk_id,
                        "instance_id": record.instance_id,
                        "chunk_id": c.chunk_id,
                        **row,
                        "stale": False,
                    }
                ],
            )

    def answer(self, instance_id: str) -> AnswerRecord | None:
        entity = self._get("Answers", instance_id, "answer")
        if entity is None:
            return None
        return AnswerRecord(
            instance_id=instance_id,
            question=entity["question"],
            answered_at=entity["answered_at"],
            citations=tuple(CitedPassage(*c) for c in json.loads(entity["citations"])),
            scopes=tuple(json.loads(entity["scopes"])),
            metadata=json.loads(entity["metadata"]) if entity.get("metadata") else None,
        )

    def answers_citing(self, chunk_id: str) -> list[str]:
        rows = self._query("Citations", f"PartitionKey eq {_odata(chunk_id)} and stale eq false", select=["RowKey"])
        return [row["RowKey"] for row in rows]

    def live_citations(self, source: str) -> list[tuple[str, CitedPassage]]:
        rows = self._query("CitationsBySource", f"PartitionKey eq {_odata(key(source))} and stale eq false")
        return [
            (r["instance_id"], CitedPassage(r["chunk_id"], r["content_hash"], r["source"], r.get("page"))) for r in rows
        ]

    def cited_sources(self) -> list[str]:
        rows = self._query("CitationsBySource", "stale eq false", select=["PartitionKey"])
        return sorted({unquote(r["PartitionKey"]) for r in rows})

    # -- a re-index ---------------------------------------------------------------------------

    def mark_changing(self, sources: Sequence[str], *, now: str) -> None:
        marked = {r["RowKey"] for r in self._query("Changing", "PartitionKey eq 'changing'", select=["RowKey"])}
        self._upsert(
            "Changing",
            [
                {"PartitionKey": "changing", "RowKey": key(s), "source": s, "since": now}
                for s in sources
                if key(s) not in marked
            ],
        )

    def changing(self) -> list[str]:
        rows = self._query("Changing", "PartitionKey eq 'changing'")
        return [r["source"] for r in sorted(rows, key=lambda r: (r["since"], r["source"]))]

    def settle(self, source: str, moved: Mapping[tuple[str, str], str], findings: Sequence[Finding]) -> None:
        self._upsert(
            "Findings",
            [
                {
                    "PartitionKey": "findings",
                    "RowKey": f.instance_id + _SEP + f.chunk_id,
                    "instance_id": f.instance_id,
                    "chunk_id": f.chunk_id,
                    "source": f.source,
                    "page": f.page,
                    "change": f.change,
                    "found_at": f.found_at,
                }
                for f in findings
            ],
        )
        by_source = {
            (r["instance_id"], r["chunk_id"]): r
            for r in self._query("CitationsBySource", f"PartitionKey eq {_odata(key(source))} and stale eq false")
        }
        for (instance_id, old), new in moved.items():
            row = by_source.get((instance_id, old))
            if row is None:
                continue
            cited = {k: row.get(k) for k in ("cited_id", "content_hash", "source", "page")}
            self._upsert("Citations", [{"PartitionKey": new, "RowKey": instance_id, **cited, "stale": False}])
            self._delete("Citations", [(old, instance_id)])
            self._upsert("CitationsBySource", [{**row, "chunk_id": new}])
        for f in findings:
            row = by_source.get((f.instance_id, f.chunk_id))
            self._upsert("Citations", [{"PartitionKey": f.chunk_id, "RowKey": f.instance_id, "stale": True}])
            if row is not None:
                self._upsert("CitationsBySource", [{**row, "stale": True}])
        self._delete("Changing", [("changing", key(source))])

    def unsealed(self) -> list[Finding]:
        rows = self._query("Findings", "PartitionKey eq 'findings'")
        return [
            Finding(r["instance_id"], r["chunk_id"], r["source"], r.get("page"), r["change"], r["found_at"])
            for r in sorted(rows, key=lambda r: r["RowKey"])
        ]

    def seal(self, events: Sequence[PendingStale], findings: Sequence[Finding]) -> None:
        for e in events:
            row = {
                "event_id": e.id,
                "instance_id": e.instance_id,
                "data": json.dumps(dict(e.data), sort_keys=True),
                "superseded_by": e.superseded_by or "",
                "created_at": str(e.data["detected_at"]),
            }
            self._upsert("StaleEvents", [{"PartitionKey": e.instance_id, "RowKey": e.id, **row, "published": False}])
            self._upsert(
                "StalePending", [{"PartitionKey": "pending", "RowKey": row["created_at"] + _SEP + e.id, **row}]
            )
        self._delete("Findings", [("findings", f.instance_id + _SEP + f.chunk_id) for f in findings])

    # -- the outbox of Stale events ------------------------------------------------------------

    def pending(self, limit: int = 500) -> list[PendingStale]:
        table = self._table("StalePending")
        found: list[PendingStale] = []
        with translating(_SERVICE):
            # RowKeys sort by creation time; the service returns a partition in RowKey order.
            for entity in table.query_entities("PartitionKey eq 'pending'", results_per_page=min(limit, 1000)):
                self._pending_keys[entity["event_id"]] = (entity["RowKey"], entity["instance_id"])
                found.append(
                    PendingStale(
                        entity["event_id"],
                        entity["instance_id"],
                        json.loads(entity["data"]),
                        entity["superseded_by"] or None,
                    )
                )
                if len(found) >= limit:
                    break
        return found

    def mark_published(self, event_ids: Sequence[str], *, now: str) -> None:
        for event_id in event_ids:
            known = self._pending_keys.pop(event_id, None)
            if known is None:
                rows = self._query("StalePending", f"PartitionKey eq 'pending' and event_id eq {_odata(event_id)}")
                if not rows:
                    continue
                known = (rows[0]["RowKey"], rows[0]["instance_id"])
            row_key, instance_id = known
            self._upsert(
                "StaleEvents",
                [{"PartitionKey": instance_id, "RowKey": event_id, "published": True, "published_at": now}],
            )
            self._delete("StalePending", [("pending", row_key)])

    def stale_mark(self, instance_id: str) -> StaleMark | None:
        rows = self._query("StaleEvents", f"PartitionKey eq {_odata(instance_id)}")
        if not rows:
            return None
        newest = max(rows, key=lambda r: (r["created_at"], r["RowKey"]))
        data = json.loads(newest["data"])
        pages: dict[str, list[int]] = defaultdict(list)
        for passage in data.get("passages", []):
            if passage.get("page") is not None:
                pages[passage["source"]].append(passage["page"])
        return StaleMark(
            event_id=newest["RowKey"],
            detected_at=data["detected_at"],
            sources=tuple(data.get("sources", [])),
            superseded_by=newest.get("superseded_by") or None,
            published=bool(newest.get("published")),
            pages={source: tuple(sorted(set(p))) for source, p in pages.items()},
        )

    def stale_counts(self) -> dict[str, int]:
        rows = self._query("CitationsBySource", "stale eq true", select=["PartitionKey", "instance_id"])
        answers: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            answers[unquote(r["PartitionKey"])].add(r["instance_id"])
        return {source: len(ids) for source, ids in answers.items()}

    def prune(self, *, before: str) -> int:
        old = self._query("Answers", f"answered_at lt {_odata(before)}")
        for entity in old:
            instance_id = entity["PartitionKey"]
            for chunk_id, _, source, _ in json.loads(entity["citations"]):
                self._delete("CitationsBySource", [(key(source), instance_id + _SEP + chunk_id)])
            for row in self._query("Citations", f"RowKey eq {_odata(instance_id)}", select=["PartitionKey", "RowKey"]):
                self._delete("Citations", [(row["PartitionKey"], instance_id)])
            self._delete("Answers", [(instance_id, "answer")])
        return len(old)

    def close(self) -> None:
        self._tables.clear()
        self._client.close()
