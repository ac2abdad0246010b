"""The Starlette application: routes, health and model list.

Owns the URL map and the app's shared ``StubState`` (``app.state.stub``). Each route's work is
in ``handlers.py``; this module must stay a table plus the two trivial endpoints.
"""

from __future__ import annotations

import dataclasses

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server_stub import handlers, scenarios
from server_stub.formats import anthropic, openai
from server_stub.replay import enable_replays
from server_stub.settings import DEMO_MODEL, StubSettings
from server_stub.state import StubState
from server_stub.streaming import install_log_filter


def model_names() -> list[str]:
    """The demo model, then one model per scenario (``stub-NAME`` selects scenario NAME)."""
    return [DEMO_MODEL] + [f"stub-{name}" for name in scenarios.SCENARIOS]


async def healthz(request: Request) -> Response:
    state: StubState = request.app.state.stub
    return JSONResponse(
        {
            "status": "ok",
            "scenario": state.settings.scenario,
            "active_generations": state.active_generations,
            "generations_started": state.generations_started,
            "resumable_streams": len(state.resume),
        }
    )


async def models(request: Request) -> Response:
    """OpenAI's list shape, or Anthropic's when the request carries ``anthropic-version``."""
    state: StubState = request.app.state.stub
    fmt = anthropic if "anthropic-version" in request.headers else openai
    key = state.settings.api_key
    if key is not None:
        problem = fmt.check_key(request.headers, key)
        if problem is not None:
            return handlers.reply(fmt.error(problem))
    return Response(fmt.models_body(model_names()), media_type="application/json")


def create_app(settings: StubSettings | None = None) -> Starlette:
    settings = settings or StubSettings()
    if settings.scenario not in scenarios.SCENARIOS:
        found = scenarios.lookup(settings.scenario)
        if found is None:
            raise ValueError(f"unknown scenario {settings.scenario!r}")
        settings = dataclasses.replace(settings, scenario=found.name)
    install_log_filter()
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", handlers.openai_chat, methods=["POST"]),
            Route("/v1/messages", handlers.anthropic_messages, methods=["POST"]),
            Route("/api/chat", handlers.generic_chat, methods=["POST"]),
            Route("/api/streams/{stream_id}", handlers.generic_resume, methods=["GET"]),
            Route("/api/prompts", handlers.generic_prompt, methods=["POST"]),
            Route("/api/prompts/{stream_id}/stream", handlers.generic_resume, methods=["GET"]),
        ]
    )
    app.state.stub = StubState(settings)
    enable_replays(app)  # recordings on demand: --replay, or X-Stub-Replay (the window)
    return app
