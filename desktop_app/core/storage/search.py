"""Searching the history: FTS5 when this SQLite has it, a plain LIKE scan when not.

Owns: the full-text index (an external-content FTS5 table over
``messages.text`` and ``messages.reasoning``, kept in sync by triggers), its
(re)creation on open, turning what a user typed into a safe query, and
snippets (cut in Python around the first match) with highlight spans.

FTS5 is not guaranteed (some Python builds ship SQLite without it), so it is
detected on every open. Without it the triggers are dropped (writes must not
need the module) and ``search_like`` scans; when FTS5 is back, the index is
rebuilt once from the messages table.

Must not: let a query string raise. Every word the user typed is quoted, so
FTS5 operators (AND, NEAR, ``*``, ``"``, ``col:``) are just text.
"""

from __future__ import annotations

import sqlite3

from desktop_app.core.storage.models import SearchHit

MAX_TERMS = 32  # bounds the cost of a pasted paragraph
SNIPPET_CHARS = 60  # context before the first match (twice that after)

_TRIGGERS = {
    "messages_fts_insert": """
        CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, text, reasoning)
            VALUES (new.id, new.text, new.reasoning);
        END""",
    "messages_fts_delete": """
        CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text, reasoning)
            VALUES ('delete', old.id, old.text, old.reasoning);
        END""",
    # Only when the text changes: finishing a message (status, metrics) costs nothing here.
    "messages_fts_update": """
        CREATE TRIGGER IF NOT EXISTS messages_fts_update
        AFTER UPDATE OF text, reasoning ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text, reasoning)
            VALUES ('delete', old.id, old.text, old.reasoning);
            INSERT INTO messages_fts (rowid, text, reasoning)
            VALUES (new.id, new.text, new.reasoning);
        END""",
}


def fts5_available(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.streamdesk_fts5_probe USING fts5(x)")
        conn.execute("DROP TABLE temp.streamdesk_fts5_probe")
    except sqlite3.OperationalError:
        return False
    return True


def setup_index(conn: sqlite3.Connection, *, use_fts: bool) -> bool:
    """Make the index match what this SQLite can do; True when FTS5 search is on.

    Runs inside the caller's write transaction.
    """
    if not use_fts:
        # The table (if any) stays; without triggers no write needs FTS5.
        for name in _TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        return False
    had_table = _exists(conn, "table", "messages_fts")
    had_triggers = all(_exists(conn, "trigger", name) for name in _TRIGGERS)
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5("
        "text, reasoning, content='messages', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    for sql in _TRIGGERS.values():
        conn.execute(sql)
    if not (had_table and had_triggers):
        # Messages written while the index was off (or before it existed).
        conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
    return True


def _exists(conn: sqlite3.Connection, kind: str, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?", (kind, name)
    ).fetchone()
    return row is not None


def terms(query: str) -> list[str]:
    """The words of a query: split on white space, NULs dropped, at most ``MAX_TERMS``."""
    words = query.replace("\x00", " ").split()
    return words[:MAX_TERMS]


def fts_query(query: str) -> str | None:
    """An FTS5 MATCH expression that finds all the words, the last one as a prefix.

    Each word is a quoted string (quotes doubled), so nothing the user types
    is FTS5 syntax. Words without a letter or digit are dropped: FTS5 would
    index nothing for them. None when nothing searchable is left.
    """
    words = [w for w in terms(query) if any(ch.isalnum() for ch in w)]
    if not words:
        return None
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    quoted[-1] += "*"  # search as you type: "strea" finds "streaming"
    return " ".join(quoted)


def search_titles(conn: sqlite3.Connection, query: str, limit: int) -> list[SearchHit]:
    words = terms(query)
    if not words:
        return []
    where = " AND ".join("title LIKE ? ESCAPE '\\'" for _ in words)
    rows = conn.execute(
        f"SELECT id, title FROM conversations WHERE deleted_at IS NULL AND {where} "
        "ORDER BY updated_at DESC, id DESC LIMIT ?",
        (*(_like_pattern(w) for w in words), limit),
    ).fetchall()
    return [SearchHit(row[0], row[1], None, row[1], _spans(row[1], words)) for row in rows]


def search_fts(conn: sqlite3.Connection, query: str, limit: int) -> list[SearchHit]:
    expression = fts_query(query)
    if expression is None:
        return []
    try:
        # Snippets are cut in Python from the (at most ``limit``) hits: FTS5's
        # snippet() in this join would run for every match before the sort
        # (1.2 s instead of 0.04 s for a word in all of 10,000 messages).
        rows = conn.execute(
            "SELECT m.conversation_id, c.title, m.id, m.text, m.reasoning FROM messages_fts "
            "JOIN messages AS m ON m.id = messages_fts.rowid "
            "JOIN conversations AS c ON c.id = m.conversation_id AND c.deleted_at IS NULL "
            "WHERE messages_fts MATCH ? ORDER BY rank, m.id DESC LIMIT ?",
            (expression, limit),
        ).fetchall()
    except sqlite3.OperationalError:
        # Belt and braces: quoting should make every query valid, but a
        # search box must never fail, so a surprise falls back to the scan.
        return search_like(conn, query, limit)
    return _hits(rows, terms(query))


def search_like(conn: sqlite3.Connection, query: str, limit: int) -> list[SearchHit]:
    """All words must occur (case-insensitive for ASCII), newest messages first."""
    words = terms(query)
    if not words:
        return []
    where = " AND ".join(
        "(m.text LIKE ? ESCAPE '\\' OR m.reasoning LIKE ? ESCAPE '\\')" for _ in words
    )
    params: list[object] = []
    for word in words:
        params += [_like_pattern(word)] * 2
    rows = conn.execute(
        "SELECT m.conversation_id, c.title, m.id, m.text, m.reasoning FROM messages AS m "
        "JOIN conversations AS c ON c.id = m.conversation_id AND c.deleted_at IS NULL "
        f"WHERE {where} ORDER BY m.id DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return _hits(rows, words)


def _hits(rows: list[tuple[int, str, int, str, str]], words: list[str]) -> list[SearchHit]:
    hits = []
    for conversation_id, title, message_id, text, reasoning in rows:
        # The snippet comes from the answer's text unless only its reasoning matched.
        source = text if _find(text, words) >= 0 or _find(reasoning, words) < 0 else reasoning
        snippet, spans = _window(source, words)
        hits.append(SearchHit(conversation_id, title, message_id, snippet, spans))
    return hits


def _like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _find(text: str, words: list[str]) -> int:
    lowered = text.lower()
    positions = [p for p in (lowered.find(w.lower()) for w in words) if p >= 0]
    return min(positions) if positions else -1


def _window(text: str, words: list[str]) -> tuple[str, tuple[tuple[int, int], ...]]:
    first = max(_find(text, words), 0)
    start = max(0, first - SNIPPET_CHARS)
    end = min(len(text), first + SNIPPET_CHARS * 2)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    snippet = prefix + " ".join(text[start:end].split()) + suffix
    return snippet, _spans(snippet, words)


def _spans(text: str, words: list[str]) -> tuple[tuple[int, int], ...]:
    lowered = text.lower()
    spans: list[tuple[int, int]] = []
    for word in {w.lower() for w in words}:
        if not word:
            continue
        at = lowered.find(word)
        while at >= 0:
            spans.append((at, at + len(word)))
            at = lowered.find(word, at + len(word))
    return tuple(sorted(spans))
