"""Classification of SDK and HTTP failures into ProviderError kinds (providers.azure.errors)."""

from __future__ import annotations

import email.utils
import time

import pytest

from contracts.errors import ErrorKind
from providers.azure.errors import classify_status, retry_after_seconds, translate, translating
from providers.errors import ProviderError


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (408, ErrorKind.TRANSIENT),
        (429, ErrorKind.TRANSIENT),
        (500, ErrorKind.TRANSIENT),
        (502, ErrorKind.TRANSIENT),
        (503, ErrorKind.TRANSIENT),
        (401, ErrorKind.CONFIGURATION),
        (403, ErrorKind.CONFIGURATION),
        (404, ErrorKind.CONFIGURATION),
        (400, ErrorKind.REJECTED),
        (409, ErrorKind.REJECTED),
        (413, ErrorKind.REJECTED),
        (422, ErrorKind.REJECTED),
    ],
)
def test_status_codes_map_to_kinds(status: int, kind: ErrorKind) -> None:
    assert classify_status(status) is kind


def test_retry_after_in_seconds_milliseconds_and_http_date() -> None:
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"x-ms-retry-after-ms": "250"}) == 0.25
    # The precise milliseconds header wins over the coarse one.
    assert retry_after_seconds({"Retry-After": "2", "retry-after-ms": "1800"}) == 1.8
    in_30s = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27 <= (retry_after_seconds({"Retry-After": in_30s}) or 0) <= 31
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert retry_after_seconds({"Retry-After": past}) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None


def test_azure_core_exceptions_without_a_response() -> None:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        DecodeError,
        ServiceRequestError,
        ServiceResponseError,
    )

    assert translate(ServiceRequestError("refused"), service="s").kind is ErrorKind.TRANSIENT
    assert translate(ServiceResponseError("reset"), service="s").kind is ErrorKind.TRANSIENT
    # A credential that cannot get a token (no managed identity, no az login) is configuration.
    assert translate(ClientAuthenticationError("no identity"), service="s").kind is ErrorKind.CONFIGURATION
    assert translate(DecodeError("not json"), service="s").kind is ErrorKind.INTERNAL


def test_unexpected_shapes_are_internal_and_messages_are_bounded() -> None:
    error = translate(KeyError("choices"), service="openai chat")
    assert error.kind is ErrorKind.INTERNAL
    assert error.message.startswith("openai chat:")
    assert len(translate(ValueError("x" * 5000), service="s").message) <= 500


def test_translating_passes_provider_errors_through_and_chains_the_cause() -> None:
    original = ProviderError.rejected("already classified")
    with pytest.raises(ProviderError) as caught, translating("s"):
        raise original
    assert caught.value is original
    with pytest.raises(ProviderError) as caught, translating("s"):
        raise TimeoutError("slow")
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert isinstance(caught.value.__cause__, TimeoutError)
