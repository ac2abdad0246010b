"""The fault matrix, window column: the real ``MainWindow`` on the qasync loop, per row.

Each row opens a window (in-memory history) whose only profile points at the
row's fault, sends the prompt through the composer, waits for the answer to
end and reads what the user sees: the message's status, the sentence and hint
under the text, the button offered (Retry or Continue) and the text shown;
then what the window saved in its history. The window's turns run with the
matrix's short watchdogs (its own defaults are 90 s and 120 s).
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest

from desktop_app.core.profiles import Profile
from desktop_app.core.session import TurnSettings
from tests.faults.matrix import MATRIX
from tests.faults.matrix_model import Gui, Recovery, Saved
from tests.faults.observe import stable, text_kind
from tests.faults.servers import no_dns
from tests.faults.sources import FIRST_TOKEN_TIMEOUT, IDLE_TIMEOUT, open_fault
from tests.faults.stub import FaultStub
from tests.qt.shell_helpers import open_window, send_and_finish

pytestmark = pytest.mark.asyncio

SETTINGS = TurnSettings(
    connect_timeout=FIRST_TOKEN_TIMEOUT,
    first_token_timeout=FIRST_TOKEN_TIMEOUT,
    idle_timeout=IDLE_TIMEOUT,
)


def with_short_watchdogs(window: object) -> list[int]:
    """Make every turn of ``window`` use ``SETTINGS``; returns a list counting the turns."""
    asked: list[int] = []
    original = window.current_target  # type: ignore[attr-defined]

    def current_target() -> object:
        asked.append(1)
        return dataclasses.replace(original(), settings=SETTINGS)

    window.current_target = current_target  # type: ignore[attr-defined]
    return asked


@pytest.mark.parametrize("key", list(MATRIX))
async def test_gui_row(key: str, stub: FaultStub) -> None:
    row = MATRIX[key]
    async with open_fault(key, stub) as target:
        profile = Profile(
            name="Faulty", provider=target.provider, base_url=target.base_url, model=target.model
        )
        with no_dns() if target.needs_no_dns else contextlib.nullcontext():
            async with open_window([profile]) as window:
                asked = with_short_watchdogs(window)
                message_id, status = await send_and_finish(window, target.prompt, target.model)
                assert asked, "the window no longer asks current_target(): watchdogs not set"
                # Read the widgets while the window is open (closing deletes them).
                widget = window.chat_view.message_widget(message_id)
                assert widget is not None
                shown = window.chat_view.raw_text(message_id)
                stored = window.services.history.get_message(int(message_id))
                button = widget.box_button()
                kind = text_kind(shown, target.full, target.partial)
                gui = Gui(
                    status=status,
                    shown=kind,
                    error=stable(widget.view.error),
                    hint=widget.view.error_hint,
                    button=button.text() if button is not None else "",
                )
                view_status = widget.view.status
    assert gui == row.gui
    assert view_status == status
    # What is saved is what is on screen.
    assert stored.text == shown
    assert Saved(stored.status.value, kind, stored.error_message is not None) == row.saved
    assert stored.metrics is not None
    assert Recovery(stored.metrics.attempts, stored.metrics.reconnects) == Recovery(
        row.recovery.attempts, row.recovery.reconnects
    )
