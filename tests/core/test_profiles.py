"""Profiles and settings: TOML round trips, validation sentences, broken files kept, no keys."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from desktop_app.core import config_file, paths
from desktop_app.core.errors import ConfigError
from desktop_app.core.profiles import (
    OFFLINE_DEMO,
    TEMPLATES,
    Profile,
    Settings,
    default_profiles,
    dumps_profiles,
    find,
    from_template,
    load_profiles,
    load_settings,
    save_profiles,
    save_settings,
    validate,
    validate_all,
)

FULL = Profile(
    name='Work ☕ "quoted"',
    provider="generic",
    base_url="https://llm.corp.example/v1/chat",
    model="big-model",
    system_prompt='Line one\n"quoted" and \\ backslash\n\tindented """ triple\x01',
    temperature=0.7,
    max_tokens=1024,
    extra_headers={"X-Team": 'a "b"', "X-Region": "ü"},
    proxy="http://proxy.corp.example:3128",
    ca_bundle="/etc/ssl/corp root.pem",
    stream_url="https://llm.corp.example/stream",
    api_key_env="CORP_LLM_KEY",
    has_key=True,
)


def test_defaults_when_there_is_no_file() -> None:
    profiles = load_profiles()
    assert profiles[0].name == OFFLINE_DEMO
    assert profiles[0].embedded
    names = [p.name for p in profiles]
    for expected in ("OpenAI", "Anthropic", "Ollama", "LM Studio", "llama.cpp", "OpenRouter"):
        assert expected in names
    assert not paths.profiles_path().exists()  # reading writes nothing


def test_templates_point_at_the_right_servers() -> None:
    assert TEMPLATES["openai"].base_url == "https://api.openai.com/v1"
    assert TEMPLATES["anthropic"].provider == "anthropic"
    assert TEMPLATES["anthropic"].max_tokens
    assert TEMPLATES["ollama"].base_url == "http://localhost:11434/v1"
    assert TEMPLATES["lmstudio"].base_url == "http://localhost:1234/v1"
    assert TEMPLATES["llamacpp"].base_url == "http://localhost:8080/v1"
    assert TEMPLATES["openrouter"].api_key_env == "OPENROUTER_API_KEY"
    for profile in default_profiles():
        validate(profile)
    mine = from_template("Ollama", "Home server", model="qwen3")
    assert (mine.name, mine.model, mine.base_url) == (
        "Home server",
        "qwen3",
        "http://localhost:11434/v1",
    )
    with pytest.raises(ConfigError, match="no profile template"):
        from_template("nope")


def test_round_trip_through_the_file() -> None:
    profiles = [
        *default_profiles(),
        FULL,
        Profile(name="No proxy", base_url="https://x.example", proxy=""),
    ]
    save_profiles(profiles)
    assert load_profiles() == profiles
    text = paths.profiles_path().read_text(encoding="utf-8")
    assert text.startswith("# Streamdesk server profiles")
    assert "API keys are never stored in this file" in text
    # Stable: saving the same profiles gives the same bytes.
    save_profiles(load_profiles())
    assert paths.profiles_path().read_text(encoding="utf-8") == text
    # Readable: a multi-line prompt stays multi-line.
    assert 'system_prompt = """\nLine one\n' in text


def test_proxy_none_and_empty_are_different() -> None:
    save_profiles(
        [
            Profile(name="env", base_url="https://a.example"),
            Profile(name="none", base_url="https://a.example", proxy=""),
        ]
    )
    env, none = load_profiles()
    assert env.proxy is None
    assert none.proxy == ""


def test_settings_round_trip() -> None:
    assert load_settings() == Settings()
    settings = Settings(theme="dark", font_size=13, last_profile="Work ☕")
    save_settings(settings)
    assert load_settings() == settings
    with pytest.raises(ConfigError, match="not a theme"):
        save_settings(Settings(theme="neon"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="font size"):
        save_settings(Settings(font_size=200))
    paths.settings_path().write_text('theme = "blue"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="blue"):
        load_settings()


@pytest.mark.parametrize(
    ("profile", "words"),
    [
        (Profile(name="  "), "needs a name"),
        (Profile(name="a\nb", base_url="https://x.example"), "one line"),
        (
            Profile(name="p", provider="gemini", base_url="https://x.example"),
            "not a provider format",
        ),
        (Profile(name="p", base_url="ftp://x.example"), "must start with http:// or https://"),
        (Profile(name="p", base_url="localhost:11434"), "must start with http"),
        (Profile(name="p", base_url=""), "must start with http"),
        (Profile(name="p", base_url="https://"), "no server name"),
        (Profile(name="p", base_url="https://x.example:port"), "not a valid URL"),
        (Profile(name="p", base_url="https://user:pw@x.example"), "user name or password"),
        (Profile(name="p", base_url="https://x.example", temperature=3.0), "temperature"),
        (Profile(name="p", base_url="https://x.example", max_tokens=0), "maximum number of tokens"),
        (
            Profile(
                name="p",
                base_url="https://x.example",
                extra_headers={"Authorization": "Bearer sk-1"},
            ),
            "credential",
        ),
        (
            Profile(name="p", base_url="https://x.example", extra_headers={"x-api-key": "k"}),
            "credential",
        ),
        (
            Profile(name="p", base_url="https://x.example", extra_headers={"Bad Name": "v"}),
            "not a valid header name",
        ),
        (
            Profile(name="p", base_url="https://x.example", extra_headers={"X-A": "v\r\nX-B: w"}),
            "one line",
        ),
        (
            Profile(name="p", base_url="https://x.example", proxy="socks9://p:1"),
            "proxy must start with",
        ),
        (
            Profile(name="p", base_url="https://x.example", proxy="http://u:secret@p:1"),
            "user name or password",
        ),
        (
            Profile(name="p", base_url="https://x.example", api_key_env="MY-KEY"),
            "not an environment variable name",
        ),
        (Profile(name="p", base_url="https://x.example", ca_bundle=" "), "CA bundle path is empty"),
        (Profile(name="p", base_url="https://x.example", stream_url="nope"), "stream URL"),
    ],
)
def test_validation_says_what_to_fix(profile: Profile, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        validate(profile)
    assert "secret" not in str(caught.value)
    assert "sk-1" not in str(caught.value)


def test_the_embedded_profile_needs_no_url() -> None:
    validate(Profile(name=OFFLINE_DEMO, embedded=True))


def test_names_are_unique_and_trimmed() -> None:
    with pytest.raises(ConfigError, match="two profiles named"):
        validate_all(
            [
                Profile(name="A", base_url="https://x.example"),
                Profile(name="a ", base_url="https://y.example"),
            ]
        )
    assert validate(Profile(name="  spaced  ", base_url="https://x.example")).name == "spaced"
    assert find(default_profiles(), "openai").name == "OpenAI"
    with pytest.raises(ConfigError, match="no profile named"):
        find(default_profiles(), "missing")


def test_a_broken_file_is_reported_and_kept_before_a_new_save() -> None:
    path = paths.profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    broken = b'[[profiles]]\nname = "unterminated\n'
    path.write_bytes(broken)
    with pytest.raises(ConfigError) as caught:
        load_profiles()
    assert str(path) in str(caught.value)
    assert "line" in str(caught.value)
    assert path.read_bytes() == broken  # loading touched nothing
    backup = save_profiles(default_profiles())
    assert backup is not None
    assert backup.read_bytes() == broken
    assert backup.name.startswith("profiles.toml.broken-")
    assert load_profiles() == default_profiles()
    # A second save of a now-valid file makes no new backup.
    assert save_profiles(default_profiles()) is None


def test_not_utf8_is_a_sentence() -> None:
    path = paths.profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_profiles()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("profiles = 3\n", "must be a list"),
        ('[[profiles]]\nprovider = "openai"\n', "has no name"),
        (
            '[[profiles]]\nname = "x"\nbase_url = "https://a.example"\ntemperature = "hot"\n',
            "temperature",
        ),
        (
            '[[profiles]]\nname = "x"\nbase_url = "https://a.example"\nhas_key = "yes"\n',
            "true or false",
        ),
        (
            '[[profiles]]\nname = "x"\nbase_url = "https://a.example"\nextra_headers = { A = 1 }\n',
            "extra_headers",
        ),
        ('[[profiles]]\nname = "x"\nbase_url = "gopher://a"\n', "http"),
    ],
)
def test_bad_entries_name_the_profile(text: str, words: str) -> None:
    path = paths.profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=words) as caught:
        load_profiles()
    assert str(path) in str(caught.value)


def test_a_key_pasted_into_the_config_is_refused_without_echoing_it() -> None:
    path = paths.profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '[[profiles]]\nname = "x"\nbase_url = "https://a.example"\napi_key = "sk-live-123456"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="does not read keys") as caught:
        load_profiles()
    assert "sk-live-123456" not in str(caught.value)
    assert "sk-live-123456" not in (caught.value.hint or "")


def test_unknown_fields_are_ignored_for_newer_versions() -> None:
    path = paths.profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '[[profiles]]\nname = "x"\nbase_url = "https://a.example"\nfuture = 1\n', encoding="utf-8"
    )
    assert load_profiles() == [Profile(name="x", base_url="https://a.example")]


def test_the_profile_has_no_key_field() -> None:
    names = {f.name for f in dataclasses.fields(Profile)}
    assert not names & {"api_key", "key", "token", "secret", "password"}
    assert "has_key" in names


def test_the_writer_escapes_everything_tomllib_reads_back() -> None:
    tricky = [
        "",
        "plain",
        'q"uote',
        "back\\slash",
        "tab\there",
        "nl\nline",
        "ctrl\x00\x1f\x7f",
        '"""',
        "\r\n",
        "é🙂",
    ]
    for text in tricky:
        document = (
            config_file.assignment("k", text)
            + "\n"
            + config_file.assignment("weird key", {"a b": text})
            + "\n"
        )
        parsed = tomllib.loads(document)
        assert parsed == {"k": text, "weird key": {"a b": text}}, repr(text)
    assert dumps_profiles([FULL]).count("[[profiles]]") == 1


def test_saving_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "cfg" / "profiles.toml"
    save_profiles(default_profiles(), target)
    save_profiles(default_profiles()[:2], target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["profiles.toml"]
    assert len(load_profiles(target)) == 2
