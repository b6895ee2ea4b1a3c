"""Unit tests of the host's replay bookkeeping (no SDK, no I/O)."""

from __future__ import annotations

import pytest

from embedded_host.durable.actions import EngineState, NonDeterminismError, UnsupportedActionError, plan_actions
from embedded_host.web.routing import RouteTemplate


def _act(name: str, atype: int = 0) -> dict:
    return {"actionType": atype, "functionName": name, "input": "null"}


def test_ids_follow_creation_order_across_compound_actions() -> None:
    state = EngineState()
    timer = {"actionType": 5, "fireAt": "2030-01-01T00:00:00.000000Z", "isCanceled": False}
    event = {"actionType": 6, "externalEventName": "go"}
    plan = plan_actions(state, [[_act("a"), {"actionType": 11, "compoundActions": [event, timer]}]])
    assert [a[0] for a in plan.activities] == [0]
    assert plan.timers == [(1, "2030-01-01T00:00:00.000000Z")]
    assert state.next_id == 2
    again = plan_actions(state, [[_act("a"), {"actionType": 11, "compoundActions": [event, timer]}, _act("b")]])
    assert again.activities == [(2, "b", "null")] and not again.timers


def test_changed_action_is_non_determinism() -> None:
    state = EngineState()
    plan_actions(state, [[_act("a")]])
    with pytest.raises(NonDeterminismError, match=r"CallActivity\('a'\).*CallActivity\('b'\)"):
        plan_actions(state, [[_act("b")]])


def test_missing_action_is_non_determinism() -> None:
    state = EngineState()
    plan_actions(state, [[_act("a"), _act("b")]])
    with pytest.raises(NonDeterminismError):
        plan_actions(state, [[_act("a")]])


def test_unsupported_action_is_reported() -> None:
    with pytest.raises(UnsupportedActionError, match="action type 99"):
        plan_actions(EngineState(), [[{"actionType": 99, "functionName": "x"}]])


def test_sub_orchestrations_share_the_id_counter() -> None:
    state = EngineState()
    retry = {"firstRetryIntervalInMilliseconds": 5, "maxNumberOfAttempts": 2}
    plan = plan_actions(
        state,
        [
            [
                _act("a"),
                {"actionType": 2, "functionName": "child", "input": "1"},
                {"actionType": 3, "functionName": "child", "instanceId": "c", "retryOptions": retry},
            ]
        ],
    )
    assert plan.activities == [(0, "a", "null")]
    assert plan.sub_orchestrations == [(1, "child", "1", None), (2, "child", None, "c")]
    chain = EngineState.from_json(state.to_json()).retry_tasks[2]
    assert chain.sub_orchestration and chain.instance_id == "c" and chain.max_attempts == 2


def test_state_round_trips() -> None:
    state = EngineState()
    plan_actions(
        state, [[{**_act("a", 1), "retryOptions": {"firstRetryIntervalInMilliseconds": 5, "maxNumberOfAttempts": 3}}]]
    )
    copy = EngineState.from_json(state.to_json())
    assert copy == state and copy.retry_tasks[0].max_attempts == 3


def test_route_templates() -> None:
    route = RouteTemplate.compile("pipeline/{instance_id}")
    assert route.match("pipeline/abc") == {"instance_id": "abc"}
    assert route.match("pipeline/abc/x") is None
    assert RouteTemplate.compile("items/{id:int}").match("items/x") is None
    assert RouteTemplate.compile("items/{id?}").match("items") == {}
    assert RouteTemplate.compile("files/{*rest}").match("files/a/b") == {"rest": "a/b"}
