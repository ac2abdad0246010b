"""What the offline stub answers the next prompt with: a scenario or a recording the tester chose.

For the window's offline profile (the embedded stub), a tester can pick a
stub scenario (``scenario_answer``: the ``X-Stub-Scenario`` header) or a
recording (``recording_answer``: registered with the running stub's replay
deck, asked for with ``X-Stub-Replay``). Either gives a ``NextAnswer``: the
headers to add to the next turn's endpoint and, for a recording, the wire
format and base URL that land the request on the recorded path
(``core.recording.replay_target``).

It bridges the app and the bundled stub (imported lazily, as ``services``
does) and must not touch widgets or block: reading a recording is a small
file read; call it from a worker thread for big ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.core.errors import ConfigError
from desktop_app.core.recording import load_recording, replay_target

SCENARIO_HEADER = "X-Stub-Scenario"
REPLAY_HEADER = "X-Stub-Replay"


@dataclass(frozen=True, slots=True)
class NextAnswer:
    """How to send the next turn so the stub answers it as chosen."""

    label: str  # "scenario stall_mid_stream", "recording bug-42.jsonl"
    headers: Mapping[str, str] = field(default_factory=dict)
    provider: str | None = None  # None: the profile's own format and URL
    base_url: str | None = None


def scenario_choices() -> list[tuple[str, str]]:
    """Every stub scenario with its one-sentence description, for a menu."""
    from server_stub import scenarios

    return scenarios.describe_all()


def scenario_answer(name: str) -> NextAnswer:
    """The stub acts out scenario ``name``; raises ``ConfigError`` for an unknown one."""
    from server_stub import scenarios

    found = scenarios.lookup(name)
    if found is None:
        raise ConfigError(
            f"The offline server has no scenario called “{name}”.",
            hint="Choose one of: " + ", ".join(scenarios.SCENARIOS) + ".",
        )
    return NextAnswer(f"scenario {found.name}", {SCENARIO_HEADER: found.name})


def recording_answer(
    stub_app: Any, stub_url: str, path: Path | str, speed: float = 1.0
) -> NextAnswer:
    """Register the recording at ``path`` with the running stub (``RunningStub.app``).

    Raises ``InvalidRecording`` for a file that is not one (with the app's
    words), ``ValueError`` for a negative speed.
    """
    from server_stub.replay import enable_replays
    from server_stub.replay_file import RecordingError

    recording = load_recording(path)  # the app's reader says what is wrong, in its words
    provider, base_url = replay_target(recording, stub_url)
    try:
        token = enable_replays(stub_app).register(Path(path), speed)
    except RecordingError as exc:  # the stub's stricter reading (e.g. no response at all)
        from desktop_app.core.recording import InvalidRecording

        raise InvalidRecording(f"The recording cannot be replayed: {exc}.") from None
    return NextAnswer(f"recording {Path(path).name}", {REPLAY_HEADER: token}, provider, base_url)
