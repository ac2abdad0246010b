"""The demo answers: Markdown that shows a new user what the app can render.

Owns the text only (which answer for which prompt, deterministic for a given prompt). It knows
nothing of wire formats, pacing or scenarios' faults; ``turn.py`` asks it for text and
``tokens.py`` cuts that text into tokens.
"""

from __future__ import annotations

import json
import zlib

_CODE_WORDS = (
    "code",
    "function",
    "script",
    "python",
    "rust",
    "javascript",
    "typescript",
    "sql",
    "bash",
    "program",
    "regex",
    "class",
)
_TABLE_WORDS = ("table", "compare", "comparison", " vs", "versus", "difference")
_GREETINGS = (
    "hi",
    "hello",
    "hey",
    "hallo",
    "bonjour",
    "hola",
    "salut",
    "yo",
    "thanks",
    "thank you",
)


def seed_for(text: str) -> int:
    """A stable seed (unlike ``hash()``, which changes between processes)."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _quote_question(prompt: str) -> str:
    flat = " ".join(prompt.split())
    if len(flat) > 200:
        flat = flat[:199] + "…"
    return flat or "(an empty message)"


def _title(prompt: str) -> str:
    words = " ".join(prompt.split()).rstrip("?!.").split(" ")
    title = " ".join(words[:8])
    if len(words) > 8:
        title += " …"
    return title[:1].upper() + title[1:] if title else "Your question"


_SNIPPETS = (
    (
        "python",
        'from dataclasses import dataclass\n\n\n@dataclass(frozen=True)\nclass Token:\n    text: str\n    index: int\n\n\ndef join(tokens: list[Token]) -> str:\n    """Concatenate streamed tokens in order."""\n    return "".join(t.text for t in sorted(tokens, key=lambda t: t.index))',
    ),
    (
        "typescript",
        'async function* readEvents(url: string): AsyncGenerator<string> {\n  const response = await fetch(url, { headers: { Accept: "text/event-stream" } });\n  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();\n  for (;;) {\n    const { value, done } = await reader.read();\n    if (done) return;\n    yield value;\n  }\n}',
    ),
    (
        "rust",
        "fn count_words(text: &str) -> std::collections::HashMap<&str, usize> {\n    let mut counts = std::collections::HashMap::new();\n    for word in text.split_whitespace() {\n        *counts.entry(word).or_insert(0) += 1;\n    }\n    counts\n}",
    ),
    (
        "go",
        'func retry(attempts int, delay time.Duration, f func() error) error {\n\tvar err error\n\tfor i := 0; i < attempts; i++ {\n\t\tif err = f(); err == nil {\n\t\t\treturn nil\n\t\t}\n\t\ttime.Sleep(delay << i)\n\t}\n\treturn fmt.Errorf("after %d attempts: %w", attempts, err)\n}',
    ),
)

_SHELL = 'curl -N http://127.0.0.1:8000/v1/chat/completions \\\n  -H \'Content-Type: application/json\' \\\n  -d \'{"model": "streamdesk-stub", "stream": true, "messages": [{"role": "user", "content": "hi"}]}\''

_QUOTES = (
    ("Simplicity is prerequisite for reliability.", "Edsger W. Dijkstra"),
    ("Make it work, make it right, make it fast.", "Kent Beck"),
    ("Premature optimization is the root of all evil.", "Donald Knuth"),
    ("Errors should never pass silently.", "The Zen of Python"),
)

_TABLES = (
    "| Feature | Status | Notes |\n|---|:---:|---|\n| Streaming | ✅ | token by token, as it arrives |\n| Markdown | ✅ | headings, lists, tables, quotes |\n| Code blocks | ✅ | highlighted per language |\n| Offline demo | ✅ | this very server |",
    "| Format | Endpoint | Terminator |\n|---|---|---|\n| OpenAI | `POST /v1/chat/completions` | `data: [DONE]` |\n| Anthropic | `POST /v1/messages` | `message_stop` |\n| Generic | `POST /api/chat` | `event: stop` |",
    "| Language | Typing | First released |\n|---|---|---:|\n| Python | dynamic, gradual | 1991 |\n| Rust | static | 2015 |\n| TypeScript | static, structural | 2012 |\n| Go | static | 2009 |",
)

_WORLD = "A few characters from elsewhere: café, naïve, façade, Ελληνικά, русский, 日本語のテキスト, 中文, 한국어, and emoji 🚀 ✨ 👍🏽."


def _pick(seq: tuple[object, ...], seed: int, salt: int) -> int:
    return (seed // (salt * 7 + 1)) % len(seq)


def tour_answer(prompt: str, seed: int) -> str:
    """The default: a medium answer touching every Markdown feature the app renders."""
    lang, code = _SNIPPETS[_pick(_SNIPPETS, seed, 1)]
    quote, author = _QUOTES[_pick(_QUOTES, seed, 2)]
    table = _TABLES[_pick(_TABLES, seed, 3)]
    return f"""## {_title(prompt)}

You asked: *"{_quote_question(prompt)}"*

This is the **Streamdesk demo server** answering offline, so the reply below is a sample that shows
what the app can render rather than a real answer. Connect a server in the settings to talk to a
real model.

### Things to try
1. Ask for **code** ("show me some Python code") to see syntax highlighting.
2. Ask for a **table** or a comparison.
3. Type `/scenarios` to list the scripted faults, then for example:
   - `/scenario slow_first_token` — the first word takes a while;
   - `/scenario drop_mid_stream` — the connection breaks halfway;
   - `/scenario reasoning` — the model thinks out loud first.

### A small table
{table}

### Some code
```{lang}
{code}
```

> {quote}
> — *{author}*

Read more about [CommonMark](https://commonmark.org) or the
[Server-Sent Events specification](https://html.spec.whatwg.org/multipage/server-sent-events.html).

{_WORLD}
"""


def short_answer(prompt: str, seed: int) -> str:
    """Greetings get a short, friendly reply."""
    opener = ("Hello!", "Hi there!", "Hey! 👋")[seed % 3]
    return (
        f"{opener} I'm the **Streamdesk demo server**, running on your machine with no network. "
        "Ask me anything to see a sample answer, or type `/scenarios` to see the faults I can act out."
    )


def code_answer(prompt: str, seed: int) -> str:
    """Prompts about code get several highlighted blocks and a comparison table."""
    first = _pick(_SNIPPETS, seed, 1)
    blocks = [_SNIPPETS[(first + i) % len(_SNIPPETS)] for i in range(3)]
    parts = [
        f"## Code for: {_title(prompt)}",
        "",
        f'You asked: *"{_quote_question(prompt)}"*. Here are three small, self-contained '
        "examples in different languages (sample code from the offline demo server).",
        "",
    ]
    for lang, code in blocks:
        parts += [f"### {lang.capitalize()}", "", f"```{lang}", code, "```", ""]
    parts += [
        "### Calling this server from a shell",
        "",
        "```bash",
        _SHELL,
        "```",
        "",
        "### How they compare",
        "",
        "| Example | Language | Lines |",
        "|---|---|---:|",
    ]
    for i, (lang, code) in enumerate(blocks, 1):
        parts.append(f"| {i} | {lang} | {code.count(chr(10)) + 1} |")
    parts += [
        "",
        "A few habits that keep code like this healthy:",
        "",
        "- **Name things** after what they mean, not how they work.",
        "- Keep functions *small*; one job each.",
        "- Test the edge cases: empty input, `None`, very large input, non-ASCII text (`naïve`, `日本`).",
        "",
        "> Tip: click the copy button on a code block to copy it.",
        "",
    ]
    return "\n".join(parts)


def table_answer(prompt: str, seed: int) -> str:
    """Prompts asking for a comparison get tables first."""
    return f"""## {_title(prompt)}

You asked: *"{_quote_question(prompt)}"*. A sample comparison from the offline demo server:

{_TABLES[2]}

And the three wire formats this server speaks:

{_TABLES[1]}

**In short:**
- OpenAI and Anthropic differ mostly in *framing*: data-only frames versus named events.
- The generic format adds `id:` fields, so a dropped stream can resume with `Last-Event-ID`.
- All three are plain [Server-Sent Events](https://html.spec.whatwg.org/multipage/server-sent-events.html).
"""


def long_answer(prompt: str, seed: int, target_chars: int = 110_000) -> str:
    """Tens of thousands of tokens: numbered chapters cycling through every kind of block."""
    parts = [
        f"# A very long answer to: {_title(prompt)}",
        "",
        "This answer is deliberately long, to show how the app copes with a big message.",
        "",
    ]
    size = sum(len(p) + 1 for p in parts)
    chapter = 0
    while size < target_chars:
        chapter += 1
        lang, code = _SNIPPETS[chapter % len(_SNIPPETS)]
        quote, author = _QUOTES[chapter % len(_QUOTES)]
        block = f"""## Chapter {chapter}

Chapter {chapter} repeats the building blocks of a rich answer: a paragraph of plain prose that runs
long enough to wrap over several lines, with **bold**, *italic*, `inline code` and a
[link](https://example.org/chapter/{chapter}), so that the renderer has real work to do.

1. First point of chapter {chapter}.
2. Second point, with a nested list:
   - alpha {chapter}
   - beta {chapter}
3. Third point.

{_TABLES[chapter % len(_TABLES)]}

```{lang}
{code}
```

> {quote} — *{author}*

{_WORLD}
"""
        parts.append(block)
        size += len(block) + 1
    parts.append("**The end.** Thank you for reading all of it.")
    return "\n".join(parts)


def multilingual_answer(prompt: str, seed: int) -> str:
    """Mostly multi-byte text, for scenarios that cut UTF-8 on the wire."""
    return """## Ünïcödé, everywhere

- Français : « déjà vu », façade, cœur, œuvre.
- Deutsch: Größe, Übermäßig, Straße.
- Ελληνικά: Καλημέρα κόσμε.
- Русский: Съешь же ещё этих мягких французских булок.
- 日本語: 吾輩は猫である。名前はまだ無い。
- 中文: 我能吞下玻璃而不伤身体。
- 한국어: 다람쥐 헌 쳇바퀴에 타고파.
- Emoji: 🚀 ✨ 👍🏽 👩‍💻 🇫🇷 🧪

> Ça marche : 🎉
"""


def line_separator_answer(prompt: str, seed: int) -> str:
    """Text with U+2028, U+2029 and U+0085, which some line splitters wrongly treat as newlines."""
    return (
        "## Unusual line breaks\n\n"
        "This line has a LINE SEPARATOR here:\u2028and continues after it.\n\n"
        "This one has a PARAGRAPH SEPARATOR here:\u2029and continues too.\n\n"
        "And a NEXT LINE control here:\x85still the same line.\n\n"
        "A client that splits lines with `str.splitlines()` breaks these JSON strings apart; "
        "a correct SSE decoder splits on CR and LF only.\n"
    )


def tool_result_answer(name: str, result: str) -> str:
    """The answer after a tool call, built from the tool's result."""
    shown = result.strip() or "(empty)"
    try:
        shown = json.dumps(json.loads(shown), indent=2, ensure_ascii=False)
        fence = "json"
    except ValueError:
        fence = "text"
    return (
        f"The tool `{name}` returned:\n\n```{fence}\n{shown}\n```\n\n"
        "Based on that result, here is the answer you asked for. (This is the offline demo "
        "server: it only echoes the tool result.)"
    )


def reasoning_text(prompt: str) -> str:
    """The thinking shown before the answer in the ``reasoning`` scenario."""
    return (
        f'The user asks: "{_quote_question(prompt)}". Let me think about what a helpful answer '
        "looks like. First, restate the question. Second, pick the key points: a short summary, a "
        "list, maybe a table and a code sample. Third, check the answer for mistakes before "
        "writing it. That should do; now I'll write the answer."
    )


def scenario_list_answer(rows: list[tuple[str, str]], unknown: str | None = None) -> str:
    """The reply to ``/scenarios``: every scenario with its sentence; after ``/scenario NAME``
    with an ``unknown`` name, a sentence saying so comes first."""
    lines = [f"Unknown scenario “{unknown}”.", ""] if unknown is not None else []
    lines += [
        "## Scenarios",
        "",
        "Start a message with `/scenario NAME` to run one; the rest of the message is the prompt.",
        "",
        "| Name | What it does |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {text} |" for name, text in rows]
    return "\n".join(lines) + "\n"


def demo_answer(prompt: str, seed: int) -> str:
    """Pick the demo answer that suits the prompt."""
    low = f" {prompt.lower().strip()}"
    flat = low.strip(" !.?")
    if not flat or flat in _GREETINGS or (len(flat) <= 12 and flat.split(" ")[0] in _GREETINGS):
        return short_answer(prompt, seed)
    if any(word in low for word in _CODE_WORDS):
        return code_answer(prompt, seed)
    if any(word in low for word in _TABLE_WORDS):
        return table_answer(prompt, seed)
    return tour_answer(prompt, seed)
