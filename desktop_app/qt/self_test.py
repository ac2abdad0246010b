"""``streamdesk --self-test``: prove a build works, through the real window, with no network.

It starts the embedded stub on a free loopback port, opens the real main
window (offscreen when there is no display; ``app.run`` sets that up before
the QApplication exists), types a prompt into the composer, sends it through
the whole GUI path (chat controller, stream controller, session, transport,
chat view) and checks:

- the text the view received equals what the stub says for that prompt,
  fetched independently (a plain non-streaming HTTP request with the
  standard library, no Streamdesk code on that path);
- the text on screen equals a one-shot rendering of that text (incremental
  rendering shows what a full render would);
- the answer was saved to history as complete, with the same text.

It prints the metrics and exits 0, or prints what failed and exits 1; the
whole run is bounded by ``SELF_TEST_TIMEOUT``. It touches no user file: the
history lives in memory, keys in a memory store, settings are not written.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.request
from typing import Any

from desktop_app import __version__

PROMPT = "Self-test: show me a table and a short code example"
MODEL = "demo"  # the stub's normal scenario
# Components whose licences the About box must name in every build (LGPL Qt above all).
ABOUT_MUST_LIST = frozenset({"pyside6-essentials", "shiboken6", "httpx", "qasync", "keyring"})
SELF_TEST_TIMEOUT = 60.0
STUB_TOKENS_PER_SECOND = 2000.0


class SelfTestFailed(Exception):
    pass


def fetch_expected(base_url: str, prompt: str, model: str, timeout: float = 20.0) -> str:
    """The stub's answer for ``prompt``, non-streamed, read with the standard library only."""
    body = json.dumps(
        {"model": model, "stream": False, "messages": [{"role": "user", "content": prompt}]}
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/v1/chat/completions",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    # No proxy: loopback must never go through an environment proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        document = json.loads(response.read())
    content = document["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise SelfTestFailed("the stub's non-streamed answer has no text")
    return content


def _normalised(text: str) -> str:
    return " ".join(text.split())


async def run_self_test(app: Any, timeout: float = SELF_TEST_TIMEOUT) -> int:  # noqa: ASYNC109
    """Run the check; returns the exit code (0 = the build works)."""
    from desktop_app.qt.app import install_asyncgen_hooks

    install_asyncgen_hooks(asyncio.get_running_loop())
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            report = await _check(app)
    except TimeoutError:
        print(f"self-test FAILED: no complete answer within {timeout:.0f} s", file=sys.stderr)
        return 1
    except SelfTestFailed as exc:
        print(f"self-test FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # anything else is a broken build too: say what
        print(f"self-test FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(report)
    print(f"self-test passed in {time.monotonic() - started:.2f} s")
    return 0


async def _check(app: Any) -> str:
    from desktop_app.core.profiles import OFFLINE_DEMO_PROFILE, Settings
    from desktop_app.core.secrets import MemorySecretStore
    from desktop_app.core.storage import HistoryStore, MessageStatus
    from desktop_app.qt.main_window import MainWindow
    from desktop_app.qt.services import AppServices
    from desktop_app.qt.tasks import TaskRegistry
    from server_stub.embedded import start_stub

    stub = await asyncio.to_thread(
        start_stub, tokens_per_second=STUB_TOKENS_PER_SECOND, first_token_delay=0.0
    )
    services = AppServices(
        history=HistoryStore.in_memory(),
        profiles=[OFFLINE_DEMO_PROFILE],
        settings=Settings(),
        stub_factory=lambda: stub,
        secrets_override=MemorySecretStore(),
        read_only=True,
    )
    tasks = TaskRegistry()
    window = MainWindow(services, tasks)
    try:
        window.show()
        window.start()
        window.profile_bar.set_model(MODEL)
        model = window.current_target().model

        finished: asyncio.Future[tuple[str, str, str]] = asyncio.get_running_loop().create_future()

        def on_finished(conversation_id: str, message_id: str, status: str) -> None:
            if not finished.done():
                finished.set_result((conversation_id, message_id, status))

        window.chat.answerFinished.connect(on_finished)
        window.composer.set_text(PROMPT)
        if not window.composer.submit():
            raise SelfTestFailed("the composer did not send the prompt")
        _conversation, message_id, status = await finished
        if status != "complete":
            stored = services.history.get_message(int(message_id))
            raise SelfTestFailed(f"the answer ended {status}: {stored.error_message or ''}")
        expected = await asyncio.to_thread(fetch_expected, stub.url, PROMPT, model)

        view = window.chat_view
        view.flush()
        received = view.raw_text(message_id)
        if received != expected:
            raise SelfTestFailed(_difference("the window received", received, expected))
        shown = view.displayed_text(message_id)
        reference = _one_shot_render(expected, view)
        if _normalised(shown) != _normalised(reference):
            raise SelfTestFailed(_difference("the window shows", shown, reference))
        stored = services.history.get_message(int(message_id))
        if stored.status is not MessageStatus.COMPLETE or stored.text != expected:
            raise SelfTestFailed("the answer was not saved to history as complete")
        metrics = view.message_widget(message_id)
        line = metrics.view.metrics_line if metrics is not None else ""
        components = _check_about()
        return (
            f"self-test: {len(expected)} characters streamed from the embedded stub "
            f"({stub.url}) through the window\n"
            f"metrics: {line}\n"
            f"about: version {__version__}, {components} bundled components with their licences"
        )
    finally:
        from desktop_app.qt.app import dispose, stop_render_worker

        await window.shutdown()
        await dispose(window)
        await asyncio.to_thread(stub.stop)  # idempotent; the window may never have used it
        await stop_render_worker()


def _check_about() -> int:
    """The About box names this version and the components a build carries, with licences
    (a packaged build without their metadata would list none)."""
    from desktop_app.qt.about_dialog import about_html, bundled_components

    page = about_html()
    if f"Streamdesk {__version__}" not in page:
        raise SelfTestFailed(f"the About box does not say Streamdesk {__version__}")
    components = bundled_components()
    names = {c.name.lower().replace("_", "-") for c in components}
    missing = sorted(ABOUT_MUST_LIST - names)
    if missing:
        raise SelfTestFailed(f"the About box does not list {', '.join(missing)}")
    return len(components)


def _one_shot_render(text: str, view: Any) -> str:
    from desktop_app.qt.markdown_body import MarkdownBody

    body = MarkdownBody(view.theme.html_style())
    try:
        body.resize(view.width(), 400)
        body.set_text(text)
        return body.plain_text()
    finally:
        body.deleteLater()


def _difference(what: str, got: str, want: str) -> str:
    index = next(
        (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
        min(len(got), len(want)),
    )
    return (
        f"{what} {len(got)} characters, expected {len(want)}; first difference at "
        f"{index}: got {got[index : index + 40]!r}, expected {want[index : index + 40]!r}"
    )
