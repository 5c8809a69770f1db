"""A bounded, content-addressed cache of per-text results.

Resume texts recur across events (the upload, the tailoring request and each
refinement carry the same text), so the scrubber analyses each distinct text
once and looks repeats up by a hash of their content. The cache holds detected
span positions only, never text, and forgets the least recently used entry
beyond ``max_entries``, so memory stays bounded however large a partition is.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TypeVar

Value = TypeVar("Value")


def content_key(text: str) -> bytes:
    """128-bit BLAKE2b digest of the text: collisions are not a practical concern."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class BoundedCache[Value]:
    """Least-recently-used mapping with at most ``max_entries`` entries (0 disables it)."""

    def __init__(self, max_entries: int):
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, Value] = OrderedDict()

    def get(self, key: bytes) -> Value | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: bytes, value: Value) -> None:
        if not self.max_entries:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
