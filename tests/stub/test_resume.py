"""Generic-format resumption with Last-Event-ID: nothing lost, nothing repeated, bounded store."""

from __future__ import annotations

import httpx
import pytest

from server_stub import content, scenarios
from server_stub.embedded import RunningStub
from server_stub.formats import generic
from server_stub.resume import ResumeStore
from server_stub.settings import Pace
from server_stub.turn import ChatInput, Turn, build_turn, timeline
from tests.stub.wire import FAST, Event, fetch, generic_body, generic_text, parse_sse

PROMPT = "Tell me about streaming"
EXPECTED = content.demo_answer(PROMPT, content.seed_for(PROMPT))


def _ids(events: list[Event]) -> list[int]:
    return [int(e.id) for e in events if e.event != "stop" and e.id is not None]


def _assert_whole(first: list[Event], rest: list[Event], expected: str = EXPECTED) -> None:
    ids = _ids(first) + _ids(rest)
    assert ids == list(range(1, len(ids) + 1))  # no id lost or repeated
    assert generic_text(first + rest) == expected
    assert rest[-1].event == "stop"
    assert rest[-2].json()["type"] == "done"


def test_drop_then_resume_loses_nothing(stub: RunningStub, client: httpx.Client) -> None:
    f = fetch(
        client,
        "POST",
        stub.url + "/api/chat",
        json_body=generic_body(PROMPT),
        headers={**FAST, "x-stub-scenario": "drop_then_resume"},
    )
    assert isinstance(f.error, httpx.RemoteProtocolError)
    assert f.events
    assert f.events[-1].event == "message"
    last = f.events[-1].id
    assert last is not None
    rest = fetch(
        client,
        "GET",
        stub.url + f.headers["content-location"],
        headers={"last-event-id": last, "accept": "text/event-stream"},
    )
    assert rest.status == 200
    assert rest.error is None  # the resumed stream does not drop again
    _assert_whole(f.events, rest.events)
    again = client.get(
        stub.url + f.headers["content-location"],
        headers={"last-event-id": rest.events[-2].id or ""},
    )
    assert again.status_code == 204


def test_resume_while_the_generation_is_still_going(
    stub: RunningStub, client: httpx.Client
) -> None:
    # 50 tokens/s: the original takes ~1 s; we leave after a few events and resume at once.
    headers = {"x-stub-tokens-per-second": "50", "x-stub-first-token-delay": "0"}
    received = b""
    with client.stream(
        "POST", stub.url + "/api/chat", json=generic_body("hi"), headers=headers
    ) as response:
        location = response.headers["content-location"]
        for chunk in response.iter_raw():
            received += chunk
            if received.count(b"\n\n") >= 5:
                break
    first, _ = parse_sse(received[: received.rindex(b"\n\n") + 2])
    assert 5 <= len(first) < 30
    rest = fetch(
        client,
        "GET",
        stub.url + location,
        headers={"last-event-id": first[-1].id or "", **headers},
    )
    _assert_whole(first, rest.events, content.demo_answer("hi", content.seed_for("hi")))
    # Events the original had not produced yet were paced, not dumped at once.
    assert rest.times[-1] - rest.times[0] > 0.3


def test_resume_without_last_event_id_replays_everything(
    stub: RunningStub, client: httpx.Client
) -> None:
    f = fetch(client, "POST", stub.url + "/api/chat", json_body=generic_body(PROMPT), headers=FAST)
    replay = fetch(client, "GET", stub.url + f.headers["content-location"])
    assert replay.raw == f.raw


def test_two_step_prompt_with_drop_then_resume(stub: RunningStub, client: httpx.Client) -> None:
    created = client.post(
        stub.url + "/api/prompts",
        json={"prompt": PROMPT},
        headers={**FAST, "x-stub-scenario": "drop_then_resume"},
    )
    url = stub.url + created.headers["location"]
    first = fetch(client, "GET", url)
    assert isinstance(first.error, httpx.RemoteProtocolError)
    rest = fetch(client, "GET", url, headers={"last-event-id": first.events[-1].id or ""})
    _assert_whole(first.events, rest.events)


def test_unknown_stream_is_a_404(stub: RunningStub, client: httpx.Client) -> None:
    r = client.get(stub.url + "/api/streams/0123456789abcdef0123")
    assert r.status_code == 404
    assert r.json()["type"] == "error"


def _turn(name: str, stall: float = 0.0) -> Turn:
    chat = ChatInput(prompt=PROMPT, model="m", input_chars=len(PROMPT))
    pace = Pace(interval=0.0, first_token_delay=0.0, keepalive_interval=0.0, stall_seconds=stall)
    return build_turn(chat, scenarios.SCENARIOS[name], pace, tools_supported=False)


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_final_id_matches_the_rendered_stream(name: str) -> None:
    turn = _turn(name)
    frames = list(timeline(turn, generic.StreamRenderer(turn), resumed=True))
    rendered_last = frames[-1][2] if frames else 0
    assert generic.final_id(turn) == rendered_last


def test_store_forgets_finished_streams_after_ttl() -> None:
    store = ResumeStore(ttl=10.0, max_streams=100)
    turn = _turn("normal")
    done = store.add(turn, 5, now=0.0, started=True)
    unread = store.add(turn, 5, now=0.0, started=False)
    ends = turn.duration()
    assert store.get(done, now=ends + 9.0) is not None
    assert store.get(done, now=ends + 11.0) is None
    assert store.get(unread, now=11.0) is None


def test_store_keeps_running_streams_and_caps_the_count() -> None:
    store = ResumeStore(ttl=10.0, max_streams=3)
    turn = _turn("keepalive_only", stall=300.0)  # lasts 5 minutes
    ids = [store.add(turn, 0, now=float(i), started=True) for i in range(5)]
    assert len(store) == 3
    assert store.get(ids[0], now=5.0) is None  # the oldest went first
    assert store.get(ids[4], now=100.0) is not None  # still running: kept
