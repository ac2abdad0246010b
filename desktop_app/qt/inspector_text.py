"""The stream inspector's words: the figures line and the requests and responses as text.

Must not: touch widgets (the dock places the text).
"""

from __future__ import annotations

import json

from desktop_app.core.inspector_model import Exchange
from desktop_app.core.inspector_timeline import Timeline

BODY_CHARS = 20_000  # request and response bodies shown up to this many characters


def summary_text(timeline: Timeline) -> str:
    """Two lines of figures: times to first byte and token, tokens and gaps; the ending."""

    def secs(value: float | None) -> str:
        if value is None:
            return "—"
        return f"{value * 1000:.0f} ms" if value < 0.9995 else f"{value:.2f} s"

    parts = [
        f"First byte {secs(timeline.first_byte)}",
        f"first token {secs(timeline.first_token)}",
        f"{timeline.token_count} tokens",
        f"longest gap {secs(timeline.max_gap)}",
        f"{len(timeline.stalls)} stall{'s' * (len(timeline.stalls) != 1)}",
        f"{len(timeline.keepalives)} keep-alive{'s' * (len(timeline.keepalives) != 1)}",
        f"{len(timeline.reconnects)} reconnect{'s' * (len(timeline.reconnects) != 1)}",
    ]
    ending = timeline.ending() or "Streaming…"
    return " · ".join(parts) + "\n" + ending


def http_text(exchanges: list[Exchange]) -> str:
    """Every request and response head as text (bodies pretty-printed, bounded)."""
    blocks: list[str] = []
    for number, exchange in enumerate(exchanges, 1):
        request = exchange.request
        lines = [f"Request {number} at {request.t:.3f} s", f"{request.method} {request.url}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items()]
        if request.body is not None:
            if isinstance(request.body, str):  # kept shortened in the history
                body = request.body
            else:
                body = json.dumps(request.body, indent=2, ensure_ascii=False)
            if len(body) > BODY_CHARS:
                body = body[:BODY_CHARS] + f"\n… ({len(body) - BODY_CHARS:,} more characters)"
            lines += ["", body]
        response = exchange.response
        lines.append("")
        if response is None:
            lines.append("No response (the connection failed or was cancelled).")
        else:
            lines.append(f"Response: HTTP {response.status} at {response.t:.3f} s")
            lines += [f"{name}: {value}" for name, value in response.headers.items()]
            if exchange.body:  # an error page or JSON error, not an event stream
                body = exchange.body
                if len(body) > BODY_CHARS:
                    body = body[:BODY_CHARS] + f"\n… ({len(body) - BODY_CHARS:,} more characters)"
                lines += ["", body]
        blocks.append("\n".join(lines))
    return "\n\n\n".join(blocks)
