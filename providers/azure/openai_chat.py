"""Answers from a chat model through the `openai` SDK: Azure OpenAI or any OpenAI-compatible server.

The prompt comes from `providers.prompt` (fixed system message, passages as delimited data).
The reply is held to the refusal and citation contract before it becomes an `Answer`:

1. Markers that point at no given passage (`[7]` when 3 were given) are removed.
2. A refusal (`providers.refusal.is_refusal`: the fixed sentence, or a plain "not covered", and no
   other sentence cited) becomes exactly `NO_ANSWER` with no citations; token usage is kept.
3. Otherwise every sentence must carry a marker: sentences left without one are removed, since no
   passage backs them. If no cited sentence remains, the step fails as `rejected`: publishing an
   uncited answer would be a silent bad result, and asking again sends the same prompt.
4. The remaining `[n]` become `Answer.quotes` (passage id -> the passage sentence that best matches
   the cited claim) and are renumbered to citation order, so `[1]` is the first quote.

With no passages there is nothing to cite, so the answer is the refusal without a model call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from providers.azure.credentials import OpenAIConnection, OpenAIModel
from providers.azure.errors import translating
from providers.base import Answer, Passage
from providers.citations import best_quote, cited_numbers, drop_unknown, keep_cited, renumber_citations
from providers.errors import ProviderError
from providers.prompt import build_messages
from providers.refusal import is_refusal, refusal

if TYPE_CHECKING:
    from config.settings import Settings
    from providers.plan import RolePlan

__all__ = ["OpenAIChatGenerator"]


class OpenAIChatGenerator(OpenAIModel):
    """Answers from an Azure OpenAI chat deployment or an OpenAI-compatible server, as `connection` says."""

    def __init__(
        self,
        connection: OpenAIConnection,
        model: str,
        *,
        temperature: float | None = 0.0,
        max_output_tokens: int | None = 800,
        quote_chars: int = 240,
    ) -> None:
        super().__init__(connection, model, operation="chat")
        self._temperature = temperature
        self._max_output_tokens = max_output_tokens
        self._quote_chars = quote_chars

    @classmethod
    def from_settings(cls, settings: Settings, role: RolePlan | None = None) -> OpenAIChatGenerator:
        """The chat model of the settings' plan (`role`: the plan's generation role, when resolved already)."""
        from providers.plan import ProviderPlan

        role = role or ProviderPlan.from_settings(settings).generation
        # A local server may load the model on the first call: it gets longer than Azure.
        timeout = 60.0 if role.backend == "azure-openai" else 120.0
        connection = OpenAIConnection.for_role(settings, role, timeout=timeout)
        return cls(connection, role.target, quote_chars=settings.pipeline_snippet_chars)

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        if not question.strip():
            raise ProviderError.invalid_input("cannot answer an empty question")
        if not passages:
            return refusal(self._model)
        options: dict[str, Any] = {}
        if self._temperature is not None:
            options["temperature"] = self._temperature
        if self._max_output_tokens is not None:
            options["max_tokens"] = self._max_output_tokens
        with translating(self._service):
            response = self._connection.client().chat.completions.create(
                model=self._model, messages=build_messages(question, passages), **options
            )
            choice = response.choices[0]
            text = choice.message.content
            usage = response.usage
            input_tokens = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
            output_tokens = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else 0
            model = str(response.model or self._model)
        if getattr(choice, "finish_reason", None) == "content_filter":
            raise ProviderError.rejected(f"{self._service}: the reply was withheld by the content filter")
        if not isinstance(text, str) or not text.strip():
            declined = getattr(choice.message, "refusal", None)  # the model's own safety refusal
            if isinstance(declined, str) and declined.strip():
                raise ProviderError.rejected(f"{self._service}: the model declined: {declined.strip()[:200]}")
            raise ProviderError.internal(f"{self._service}: the model returned no text")
        return self._read(text, passages, model, input_tokens, output_tokens)

    def _read(
        self, text: str, passages: Sequence[Passage], model: str, input_tokens: int, output_tokens: int
    ) -> Answer:
        """The reply held to the refusal and citation contract (the rule is in the module docstring)."""
        text = drop_unknown(text, len(passages))
        if is_refusal(text):
            return refusal(model, input_tokens=input_tokens, output_tokens=output_tokens)
        text = keep_cited(text)
        order = cited_numbers(text, len(passages))
        if not order:
            raise ProviderError.rejected(
                f"{self._service}: the answer cites none of the {len(passages)} passages given and is not the refusal"
            )
        quotes: dict[str, str] = {}
        for number in order:
            passage = passages[number - 1]
            quotes.setdefault(passage.id, best_quote(passage.content, text, number, max_chars=self._quote_chars))
        return Answer(
            text=renumber_citations(text, order),
            quotes=quotes,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
