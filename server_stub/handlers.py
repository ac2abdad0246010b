"""The chat endpoints: from a request to an error, a streamed or a non-streamed answer.

Owns the request flow shared by the three formats (key check, JSON, scenario choice, pacing,
the turn) and the generic format's resumable streams. Wire bytes come from ``formats/``,
timing and socket writes from ``streaming.py``; nothing here sleeps or writes.

Scenario precedence: ``/scenario NAME`` in the last user message > ``X-Stub-Scenario`` header >
a model named ``NAME`` or ``stub-NAME`` > the server's ``--scenario``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server_stub import scenarios
from server_stub.formats import BAD_REQUEST, NOT_FOUND, ErrorReply, anthropic, generic, openai
from server_stub.scenarios import Scenario
from server_stub.settings import H_SCENARIO, BadRequest, StubSettings, resolve_pace
from server_stub.state import StubState
from server_stub.streaming import SSE_TYPE, DelayedBody, EventStream
from server_stub.turn import ChatInput, Frame, Renderer, Turn, build_turn, timeline

GATEWAY_TIMEOUT = (
    b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n"
)


def reply(err: ErrorReply) -> Response:
    return Response(err.body, err.status, err.headers, media_type=err.media_type)


def choose_scenario(chat: ChatInput, headers: Any, settings: StubSettings) -> Scenario:
    if chat.chat_scenario is not None:
        found = scenarios.lookup(chat.chat_scenario)
        if found is not None:
            return found
        # "/scenario nonsense": a chat answer saying so, then the list (the header's 400 would
        # be an error a chat window shows as a failure, not something to read and pick from).
        chat.list_scenarios = True
        chat.unknown_scenario = chat.chat_scenario
    named = headers.get(H_SCENARIO)
    if named:
        found = scenarios.lookup(named)
        if found is None:
            known = ", ".join(scenarios.SCENARIOS)
            raise BadRequest(f"Unknown scenario {named!r} in {H_SCENARIO}. Known: {known}.")
        return found
    return scenarios.lookup(chat.model) or scenarios.SCENARIOS[settings.scenario]


@dataclass(frozen=True)
class _Prepared:
    turn: Turn
    chat: ChatInput


async def _prepare(request: Request, fmt: ModuleType) -> _Prepared | Response:
    state: StubState = request.app.state.stub
    settings = state.settings
    if settings.api_key is not None:
        problem = fmt.check_key(request.headers, settings.api_key)
        if problem is not None:
            return reply(fmt.error(problem))
    try:
        body = json.loads(await request.body())
    except ValueError:
        return reply(
            fmt.error(BAD_REQUEST, message="We could not parse the JSON body of your request.")
        )
    try:
        chat = fmt.parse_request(body)
        scenario = choose_scenario(chat, request.headers, settings)
        pace = resolve_pace(settings, scenario, request.headers)
    except BadRequest as exc:
        return reply(fmt.error(BAD_REQUEST, message=str(exc), param=exc.param))
    if scenario.http_error is not None:
        return reply(fmt.error(scenario.http_error, model=chat.model))
    turn = build_turn(chat, scenario, pace, tools_supported=fmt is not generic)
    return _Prepared(turn, chat)


def _stream(
    state: StubState,
    turn: Turn,
    frames: Iterator[Frame],
    t0: float,
    headers: dict[str, str],
) -> EventStream:
    sc = turn.scenario
    return EventStream(
        frames,
        state=state,
        t0=t0,
        keepalive_interval=turn.pace.keepalive_interval,
        headers=headers,
        content_type=sc.content_type or SSE_TYPE,
        crlf=sc.crlf,
        split_writes=sc.split_writes,
    )


def _complete(state: StubState, turn: Turn, fmt: ModuleType) -> Response:
    """A non-streamed answer, sent when the whole turn would have been generated."""
    sc = turn.scenario
    if sc.fault == scenarios.ERROR_EVENT:
        return reply(fmt.error(scenarios.SERVER_ERROR))
    if sc.fault == scenarios.OVERLOADED:
        return reply(fmt.error(scenarios.OVERLOADED))
    if sc.fault == scenarios.KEEPALIVE_ONLY:
        return DelayedBody(
            GATEWAY_TIMEOUT,
            state=state,
            delay=turn.pace.stall_seconds,
            status_code=504,
            media_type="text/html",
        )
    body = fmt.complete_body(turn)
    if sc.fault == scenarios.MALFORMED:
        body = body[: len(body) * 2 // 3]
    return DelayedBody(
        body,
        state=state,
        delay=turn.duration(),
        media_type="text/plain; charset=utf-8" if sc.content_type else "application/json",
        headers=fmt.stream_headers() if fmt is not generic else {},
        drop=sc.fault in (scenarios.DROP, scenarios.DROP_RESUME),
        split_writes=sc.split_writes,
    )


def _now() -> float:
    return asyncio.get_running_loop().time()


async def openai_chat(request: Request) -> Response:
    prepared = await _prepare(request, openai)
    if isinstance(prepared, Response):
        return prepared
    turn, chat = prepared.turn, prepared.chat
    state: StubState = request.app.state.stub
    if not chat.stream:
        return _complete(state, turn, openai)
    renderer = openai.StreamRenderer(turn, chat.include_usage)
    return _stream(state, turn, timeline(turn, renderer), _now(), openai.stream_headers())


async def anthropic_messages(request: Request) -> Response:
    prepared = await _prepare(request, anthropic)
    if isinstance(prepared, Response):
        return prepared
    turn, chat = prepared.turn, prepared.chat
    state: StubState = request.app.state.stub
    if not chat.stream:
        return _complete(state, turn, anthropic)
    renderer = anthropic.StreamRenderer(turn)
    return _stream(state, turn, timeline(turn, renderer), _now(), anthropic.stream_headers())


# --- the generic format: direct and two-step, both resumable ---------------------------------


def _after(frames: Iterator[Frame], last_id: int) -> Iterator[Frame]:
    """The frames following the event ``last_id`` (skips what the client already has)."""
    for frame in frames:
        eid = frame[2]
        if eid is not None and eid > last_id:
            yield frame
            yield from frames
            return


def _generic_frames(turn: Turn, last_id: int | None, *, resumed: bool) -> Iterator[Frame]:
    r: Renderer = generic.StreamRenderer(turn)
    frames = timeline(turn, r, resumed=resumed)
    return frames if last_id is None else _after(frames, last_id)


async def generic_chat(request: Request) -> Response:
    prepared = await _prepare(request, generic)
    if isinstance(prepared, Response):
        return prepared
    turn, chat = prepared.turn, prepared.chat
    state: StubState = request.app.state.stub
    if not chat.stream:
        return _complete(state, turn, generic)
    now = _now()
    stream_id = state.resume.add(turn, generic.final_id(turn), now=now, started=True)
    headers = {"content-location": f"/api/streams/{stream_id}"}
    return _stream(state, turn, _generic_frames(turn, None, resumed=False), now, headers)


async def generic_prompt(request: Request) -> Response:
    """Two-step: store the prompt, answer 201 with the stream's URL in ``Location``."""
    prepared = await _prepare(request, generic)
    if isinstance(prepared, Response):
        return prepared
    state: StubState = request.app.state.stub
    stream_id = state.resume.add(
        prepared.turn, generic.final_id(prepared.turn), now=_now(), started=False
    )
    url = f"/api/prompts/{stream_id}/stream"
    return Response(
        json.dumps({"id": stream_id, "stream_url": url}),
        201,
        {"location": url},
        media_type="application/json",
    )


async def generic_resume(request: Request) -> Response:
    """GET a stored stream; with ``Last-Event-ID``, from the event after it.

    No key check here: an ``EventSource`` cannot send headers, and the id is unguessable.
    """
    state: StubState = request.app.state.stub
    now = _now()
    stored = state.resume.get(request.path_params["stream_id"], now=now)
    if stored is None:
        return reply(generic.error(NOT_FOUND, message="No such stream (it may have expired)."))
    if stored.t0 is None:
        state.resume.start(stored, now)
    assert stored.t0 is not None
    raw = request.headers.get("last-event-id", "").strip()
    last_id = int(raw) if raw.isdigit() else None
    if last_id is not None and last_id >= stored.final_id:
        # Everything was delivered: 204 tells an EventSource to stop reconnecting.
        return Response(status_code=204)
    # A first read plays the script as is (drops included); a resume skips the drops.
    frames = _generic_frames(stored.turn, last_id, resumed=last_id is not None)
    return _stream(state, stored.turn, frames, stored.t0, {})
