"""The stub's pure parts: tokenizer, write cutting, the shared ticker, scenario lookup."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from server_stub import content, scenarios
from server_stub.pacing import Ticker
from server_stub.streaming import cut_points
from server_stub.tokens import tokenize


@given(st.text(), st.integers(min_value=0, max_value=2**32))
def test_tokens_concatenate_back_and_stay_small(text: str, seed: int) -> None:
    tokens = tokenize(text, seed)
    assert "".join(tokens) == text
    assert all(1 <= len(t) <= 6 for t in tokens)


def test_tokens_are_deterministic_and_include_multibyte() -> None:
    text = content.tour_answer("What is SSE?", 7)
    assert tokenize(text, 7) == tokenize(text, 7)
    assert tokenize(text, 7) != tokenize(text, 8)
    assert any(len(t.encode()) > len(t) for t in tokenize(text, 7))


def test_cut_points_fall_inside_characters_and_between_cr_and_lf() -> None:
    frame = 'data: {"content":"日本 ça"}\r\n\r\n'.encode()
    cuts = cut_points(frame)
    inside = [c for c in cuts if 0x80 <= frame[c] < 0xC0]  # the next byte continues a character
    assert len(inside) >= 2
    assert any(frame[c - 1 : c + 1] == b"\r\n" for c in cuts)


def test_ticker_wakes_in_order_and_skips_cancelled() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        ticker = Ticker(loop, resolution=0.005)
        woke: list[str] = []
        now = loop.time()
        assert ticker.sleep_until(now - 1) is None  # already due: no wait at all

        async def sleeper(name: str, delay: float) -> None:
            fut = ticker.sleep_until(now + delay)
            assert fut is not None
            await fut
            woke.append(name)

        tasks = [
            asyncio.create_task(sleeper(n, d)) for n, d in (("b", 0.04), ("a", 0.02), ("c", 0.06))
        ]
        cancelled = asyncio.create_task(sleeper("x", 0.03))
        await asyncio.sleep(0)
        assert ticker.waiting == 4
        cancelled.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        assert loop.time() >= now + 0.06
        assert ticker.waiting == 0
        return woke

    assert asyncio.run(main()) == ["a", "b", "c"]


def test_scenario_lookup_accepts_model_names_and_aliases() -> None:
    assert scenarios.lookup("stub-drop-mid-stream") is scenarios.SCENARIOS["drop_mid_stream"]
    assert scenarios.lookup("rate_limited") is scenarios.SCENARIOS["http_429_retry_after"]
    assert scenarios.lookup("gpt-4o") is None
    assert all(s.description.endswith(".") for s in scenarios.SCENARIOS.values())
