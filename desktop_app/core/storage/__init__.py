"""The chat history: SQLite storage, search, checkpointing, export and import.

``HistoryStore.open()`` is the entry point; see ``storage.history``. The
package never holds secrets and never imports Qt.
"""

from __future__ import annotations

from desktop_app.core.storage.checkpoint import Checkpointer
from desktop_app.core.storage.export import (
    InvalidExport,
    export_data,
    export_json,
    export_markdown,
    import_json,
)
from desktop_app.core.storage.history import (
    ConversationNotFound,
    HistoryStore,
    MessageNotFound,
    make_title,
)
from desktop_app.core.storage.models import (
    Conversation,
    ImportReport,
    MessageStatus,
    Role,
    SearchHit,
    StoredMessage,
)
from desktop_app.core.storage.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Checkpointer",
    "Conversation",
    "ConversationNotFound",
    "HistoryStore",
    "ImportReport",
    "InvalidExport",
    "MessageNotFound",
    "MessageStatus",
    "Role",
    "SearchHit",
    "StoredMessage",
    "export_data",
    "export_json",
    "export_markdown",
    "import_json",
    "make_title",
]
