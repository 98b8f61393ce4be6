"""What a pin is: one conversation-scoped value a conversation applies to its LLM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PinKind = Literal["header", "attr", "helper"]


@dataclass(frozen=True, order=True)
class Pin:
    """`header` (a scoped header key, lower case), `attr` (a scoped LLM attribute, or the field
    a scoped value is written to), or `helper` (a pin helper whose pins cannot be seen: the call
    itself is what must be repeated)."""

    kind: PinKind
    name: str

    @classmethod
    def header(cls, key: str) -> Pin:
        return cls("header", key.lower())

    @classmethod
    def attr(cls, name: str) -> Pin:
        return cls("attr", name)

    def describe(self) -> str:
        return f"the `{self.name}` header" if self.kind == "header" else f"`{self.name}`"


def names_of(pins: frozenset[Pin], kind: PinKind) -> set[str]:
    return {p.name for p in pins if p.kind == kind}
