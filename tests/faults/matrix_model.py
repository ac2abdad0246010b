"""The shape of a fault-matrix row: what each layer does, as plain data.

``matrix.py`` holds the rows; the tests observe each layer over real loopback
sockets and assert the observation equals the row's data;
``scripts/gen_fault_matrix.py`` renders the rows as ``docs/fault-matrix.md``.
Standard library only, so the generator needs nothing but Python.
"""

from __future__ import annotations

from dataclasses import dataclass

# How the text a layer kept relates to the whole answer (``observe.text_kind``).
WHOLE = "whole answer"
WHOLE_C1_REMOVED = "whole answer, C1 controls removed"
PARTIAL = "partial answer"
NOTHING = "nothing"


@dataclass(frozen=True)
class Core:
    """How ``core.session.stream_turn`` ends the turn."""

    state: str  # TurnState value: complete | interrupted | failed
    error: str  # the error's class in core.errors, "" for none
    text: str  # what TurnEnded.text holds (a text kind from tests.faults.observe)


@dataclass(frozen=True)
class Cli:
    """What ``streamdesk ask`` does (stdout piped)."""

    stdout: str  # a text kind
    exit: int
    stderr: str  # the line after "streamdesk ask: " ("" when nothing is printed)


@dataclass(frozen=True)
class Gui:
    """What the window shows for the answer once it ended."""

    status: str  # complete | interrupted | error
    shown: str  # a text kind
    error: str  # the sentence under the text
    hint: str  # what to do next, under the sentence
    button: str  # Retry | Continue | "" (none)


@dataclass(frozen=True)
class Saved:
    """What the history holds for the answer afterwards."""

    status: str  # MessageStatus value
    text: str  # a text kind
    error: bool  # the error sentence is stored with it


@dataclass(frozen=True)
class Recovery:
    """Retries (before the first token) and resumptions (after a drop)."""

    attempts: int  # 1 = no retry
    reconnects: int  # resume requests sent with Last-Event-ID
    waits: tuple[float, ...] = ()  # seconds waited before each retry or resume (no jitter)

    def words(self) -> str:
        waits = ", ".join(f"{w:g} s" for w in self.waits)
        parts: list[str] = []
        if self.attempts > 1:
            parts.append(f"{self.attempts} attempts (waits {waits})")
        if self.reconnects:
            plural = "s" if self.reconnects > 1 else ""
            parts.append(
                f"{self.reconnects} resume request{plural} with Last-Event-ID (waits {waits})"
            )
        return "; ".join(parts) or "none"


@dataclass(frozen=True)
class Row:
    key: str  # the stub scenario ("stub:NAME") or the extra fault's name
    fault: str  # what goes wrong, in words
    how: str  # how the test produces it on loopback
    core: Core
    cli: Cli
    gui: Gui
    saved: Saved
    recovery: Recovery
    note: str = ""  # anything a reader must know, including open problems
