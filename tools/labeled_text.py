"""Text written piece by piece with the offsets of every labeled piece: the document format shared by the
evaluation sets and the detector's generated training text (``{"id", "kind", "text", "pii", "keep"}``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DocBuilder:
    """Appends text pieces and records the offsets of labeled values and keep-words."""

    parts: list[str] = field(default_factory=list)
    length: int = 0
    pii: list[dict] = field(default_factory=list)
    keep: list[dict] = field(default_factory=list)

    def text(self, piece: str) -> DocBuilder:
        self.parts.append(piece)
        self.length += len(piece)
        return self

    def pii_value(self, entity_type: str, value: str) -> DocBuilder:
        self.pii.append({"type": entity_type, "start": self.length, "end": self.length + len(value), "value": value})
        return self.text(value)

    def keep_word(self, word: str, label: str | None = None) -> DocBuilder:
        """A value that must survive scrubbing; ``label`` (ORG, LOC, SKILL …) when the trainer needs its kind."""
        span = {"start": self.length, "end": self.length + len(word), "value": word}
        self.keep.append({"label": label, **span} if label else span)
        return self.text(word)

    def build(self, doc_id: str, kind: str) -> dict:
        return {"id": doc_id, "kind": kind, "text": "".join(self.parts), "pii": self.pii, "keep": self.keep}
