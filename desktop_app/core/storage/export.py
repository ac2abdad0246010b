"""Export conversations to Markdown and JSON, and import JSON back.

Owns: the export file format (``{"format": "streamdesk-history", "version": 1,
"conversations": [...]}``, times as Unix seconds, metrics as in
``models.metrics_to_dict``), the Markdown rendering of a transcript, and the
validation of a file being imported.

Import never clobbers: every conversation gets a new local id, and one whose
``uid`` already exists in the history is skipped (so importing twice adds
nothing). A JSON round trip (export, import into an empty history, export
again) gives the same document.

Stream inspections (``message_inspections``) are not exported, in either
format: they can be megabytes per answer and are about the wire, not the
conversation; the inspector's "Save recording…" shares one. Imported
answers therefore have none (the inspector says so).

Must not: write files (callers choose where; big exports can run in a
thread with their own store), or include anything secret: exports carry
profile *names* only, never keys or profile settings.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from desktop_app.core.errors import StorageError
from desktop_app.core.storage.history import HistoryStore
from desktop_app.core.storage.models import (
    ROLES,
    Conversation,
    ImportReport,
    MessageStatus,
    StoredMessage,
    metrics_from_dict,
    metrics_to_dict,
)

EXPORT_FORMAT = "streamdesk-history"
EXPORT_VERSION = 1

_ROLE_HEADINGS = {"user": "You", "assistant": "Assistant", "system": "System"}


class InvalidExport(StorageError):
    default_message = "This file is not a Streamdesk history export."
    hint = "Choose a .json file made with Export in Streamdesk."


# ---------------------------------------------------------------- reading the store


def collect(
    store: HistoryStore, conversation_ids: Sequence[int] | None = None
) -> list[tuple[Conversation, list[StoredMessage]]]:
    """The conversations to export (all, newest first, when ``conversation_ids`` is None)."""
    if conversation_ids is None:
        conversations = store.list_conversations()
    else:
        conversations = [store.get_conversation(cid) for cid in conversation_ids]
    return [(c, store.messages(c.id)) for c in conversations]


# ---------------------------------------------------------------- JSON


def export_data(
    store: HistoryStore, conversation_ids: Sequence[int] | None = None
) -> dict[str, object]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "conversations": [
            _conversation_dict(c, messages) for c, messages in collect(store, conversation_ids)
        ],
    }


def export_json(store: HistoryStore, conversation_ids: Sequence[int] | None = None) -> str:
    return json.dumps(export_data(store, conversation_ids), ensure_ascii=False, indent=2) + "\n"


def import_json(store: HistoryStore, text: str | bytes) -> ImportReport:
    """Import an export file's content; raises ``InvalidExport`` before writing anything."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidExport(
            "This file is not a Streamdesk history export: it is not JSON."
        ) from exc
    return store.import_conversations(parse_export(data))


def parse_export(data: object) -> list[tuple[Conversation, list[StoredMessage]]]:
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise InvalidExport()
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidExport()
    if version > EXPORT_VERSION:
        raise InvalidExport(
            "This history export was made by a newer version of Streamdesk.",
            hint="Update Streamdesk to import it.",
        )
    conversations = data.get("conversations")
    if not isinstance(conversations, list):
        raise InvalidExport()
    return [_parse_conversation(i, item) for i, item in enumerate(conversations, 1)]


def _conversation_dict(c: Conversation, messages: Sequence[StoredMessage]) -> dict[str, object]:
    return {
        "uid": c.uid,
        "title": c.title,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "profile": c.profile,
        "model": c.model,
        "pinned": c.pinned,
        "messages": [_message_dict(m) for m in messages],
    }


def _message_dict(m: StoredMessage) -> dict[str, object]:
    return {
        "role": m.role,
        "text": m.text,
        "reasoning": m.reasoning,
        "status": m.status.value,
        "error_message": m.error_message,
        "finish_reason": m.finish_reason,
        "model": m.model,
        "profile": m.profile,
        "metrics": metrics_to_dict(m.metrics) if m.metrics is not None else None,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


class _Fields:
    """Typed access to one JSON object, with a sentence naming what is wrong."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise InvalidExport(f"This history export is damaged: {where} is not an object.")
        self._data: dict[str, Any] = data
        self._where = where

    def _bad(self, key: str) -> InvalidExport:
        return InvalidExport(f"This history export is damaged: {self._where} has a bad “{key}”.")

    def text(self, key: str, default: str | None = None) -> str:
        value = self._data.get(key, default)
        if not isinstance(value, str):
            raise self._bad(key)
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._data.get(key)
        if value is not None and not isinstance(value, str):
            raise self._bad(key)
        return value

    def time(self, key: str) -> float:
        value = self._data.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self._bad(key)
        return float(value)

    def flag(self, key: str) -> bool:
        value = self._data.get(key, False)
        if not isinstance(value, bool):
            raise self._bad(key)
        return value

    def raw(self, key: str) -> object:
        return self._data.get(key)


def _parse_conversation(index: int, item: object) -> tuple[Conversation, list[StoredMessage]]:
    fields = _Fields(item, f"conversation {index}")
    # A file written by hand or another tool may have no uid: it gets a new one.
    uid = fields.optional_text("uid") or uuid.uuid4().hex
    created = fields.time("created_at")
    conversation = Conversation(
        id=0,
        uid=uid,
        title=fields.text("title", ""),
        created_at=created,
        updated_at=fields.time("updated_at"),
        profile=fields.optional_text("profile"),
        model=fields.optional_text("model"),
        pinned=fields.flag("pinned"),
    )
    raw_messages = fields.raw("messages")
    if not isinstance(raw_messages, list):
        raise InvalidExport(
            f"This history export is damaged: conversation {index} has no message list."
        )
    messages = [
        _parse_message(f"message {n} of conversation {index}", m)
        for n, m in enumerate(raw_messages, 1)
    ]
    return conversation, messages


def _parse_message(where: str, item: object) -> StoredMessage:
    fields = _Fields(item, where)
    role = fields.text("role")
    if role not in ROLES:
        raise InvalidExport(f"This history export is damaged: {where} has an unknown role.")
    try:
        status = MessageStatus(fields.text("status", "complete"))
    except ValueError:
        raise InvalidExport(
            f"This history export is damaged: {where} has an unknown status."
        ) from None
    metrics = fields.raw("metrics")
    if metrics is not None and not isinstance(metrics, dict):
        raise InvalidExport(f"This history export is damaged: {where} has bad metrics.")
    return StoredMessage(
        id=0,
        conversation_id=0,
        position=0,
        role=role,
        text=fields.text("text"),
        created_at=fields.time("created_at"),
        updated_at=fields.time("updated_at"),
        reasoning=fields.text("reasoning", ""),
        status=status,
        error_message=fields.optional_text("error_message"),
        finish_reason=fields.optional_text("finish_reason"),
        model=fields.optional_text("model"),
        profile=fields.optional_text("profile"),
        metrics=metrics_from_dict(metrics) if isinstance(metrics, Mapping) else None,
    )


# ---------------------------------------------------------------- Markdown


def export_markdown(store: HistoryStore, conversation_ids: Sequence[int] | None = None) -> str:
    parts = [
        _conversation_markdown(c, messages) for c, messages in collect(store, conversation_ids)
    ]
    return "\n---\n\n".join(parts)


def _conversation_markdown(c: Conversation, messages: Sequence[StoredMessage]) -> str:
    lines = [f"# {_one_line(c.title) or 'Untitled conversation'}", ""]
    about = [f"Started {_when(c.created_at)}"]
    if c.profile:
        about.append(f"profile {c.profile}")
    if c.model:
        about.append(f"model {c.model}")
    lines += ["*" + " · ".join(about) + "*", ""]
    for m in messages:
        heading = _ROLE_HEADINGS[m.role]
        if m.role == "assistant" and m.model:
            heading += f" ({m.model})"
        lines += [f"## {heading}", ""]
        if m.reasoning:
            lines += ["> **Reasoning**", ">"]
            lines += [f"> {line}".rstrip() for line in m.reasoning.splitlines()]
            lines.append("")
        if m.text:
            lines += [m.text.rstrip("\n"), ""]
        note = _status_note(m)
        if note:
            lines += [f"*{note}*", ""]
    return "\n".join(lines)


def _status_note(m: StoredMessage) -> str:
    labels = {
        MessageStatus.INTERRUPTED: "Interrupted",
        MessageStatus.ERROR: "Failed",
        MessageStatus.CANCELLED: "Stopped",
        MessageStatus.STREAMING: "Still being written",
    }
    label = labels.get(m.status)
    if label is None:
        return ""
    return f"{label}: {_one_line(m.error_message)}" if m.error_message else label


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))
