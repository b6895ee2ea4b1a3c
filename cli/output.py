"""Human-readable output of a run: the answer, its citations, the instance id and step times."""

from __future__ import annotations

import sys
import textwrap
from typing import Any

__all__ = ["print_result"]


def print_result(status: dict[str, Any], *, total_ms: float | None = None) -> None:
    result = status.get("result")
    if status.get("runtime_status") != "Completed" or not result:
        print(f"{status.get('runtime_status', 'Unknown')}: {status.get('error') or 'no result'}", file=sys.stderr)
        print(f"instance {status.get('instance_id')}", file=sys.stderr)
        return
    print(textwrap.fill(result["answer"], width=100))
    if result["citations"]:
        print("\nCitations:")
    for number, citation in enumerate(result["citations"], start=1):
        print(f"  [{number}] {citation['title']} — {_where(citation)} (score {citation['score']:.4f})")
        print(textwrap.indent(textwrap.fill(f"“{citation['quote']}”", width=94), "      "))
    steps = " · ".join(f"{step} {ms:.1f} ms" for step, ms in result.get("timings_ms", {}).items())
    total = f" · total {total_ms:.0f} ms" if total_ms is not None else ""
    scoped = f" · scopes {', '.join(result['scopes'])}" if result.get("scopes") else ""
    confidence = f" · confidence {result['confidence']:.2f}" if result.get("confidence") is not None else ""
    print(f"\ninstance {status['instance_id']} · {status['runtime_status']}{scoped}{confidence} · {steps}{total}")
    supersedes = (result.get("metadata") or {}).get("supersedes")
    if supersedes:
        print(f"answers again the stale run {supersedes}")
    stale = status.get("stale")
    if stale:
        newer = f"; newer run: {stale['superseded_by']}" if stale.get("superseded_by") else ""
        print(f"STALE since {stale['detected_at']}: {', '.join(stale['sources'])} changed{newer}")


def _where(citation: dict) -> str:
    """The source, with its page (slide, for a deck) when it has pages."""
    page = citation.get("page")
    if not page:
        return str(citation["source"])
    unit = "slide" if str(citation["source"]).lower().endswith(".pptx") else "page"
    return f"{citation['source']}, {unit} {page}"
