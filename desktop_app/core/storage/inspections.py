"""What came over the wire for an answer, kept beside it: the ``message_inspections`` rows.

Owns: ``InspectionStore``, the part of ``HistoryStore`` that writes and reads
a stored stream inspection (the text ``core.inspections.stored_json`` makes,
already bounded and with the API key scrubbed). One row per answer; deleting
the answer (regenerate, edit-and-resend, a purge) deletes it too (``ON DELETE
CASCADE``). A conversation is read without it: the inspector asks for one
answer's inspection only when the user opens it.

Must not: parse or build the stored text (``core.inspector_model`` does), or
refuse a write for a reason the turn could not help (a message deleted
meanwhile is simply not written).
"""

from __future__ import annotations

from desktop_app.core.storage.conversations import ConversationStore

# A last line of defence; ``core.inspections`` keeps what it writes well below it.
MAX_INSPECTION_CHARS = 8_000_000


class InspectionStore(ConversationStore):
    def save_inspection(self, message_id: int, data: str) -> bool:
        """Keep ``data`` as the inspection of ``message_id``, replacing an earlier one.

        False (nothing written) when the message is no longer in the history,
        e.g. regenerated while the inspection was being prepared.
        """
        if len(data) > MAX_INSPECTION_CHARS:
            raise ValueError("a stored inspection must be bounded by core.inspections")
        with self._writing():
            cursor = self._conn.execute(
                "INSERT OR REPLACE INTO message_inspections (message_id, data) "
                "SELECT id, ? FROM messages WHERE id = ?",
                (data, message_id),
            )
            return cursor.rowcount > 0

    def inspection(self, message_id: int) -> str | None:
        """The stored inspection of an answer, or None (older answers, imported ones)."""
        row = self._one("SELECT data FROM message_inspections WHERE message_id = ?", (message_id,))
        return str(row[0]) if row is not None else None
