"""The calls that change an object in place, as the write finder (`llm_writes.py`) reads them.

One definition for the libcst analysis and for the `ast` stages (`rule_stages.py`), which must
over-approximate it: a function none of whose calls is one of these writes nothing in place
through a call.
"""

from __future__ import annotations

# `x.field.update(...)`, `x.field.setdefault(k, v)`, `x.field.__setitem__(k, v)`, `x.field |= ...`
MUTATING_METHODS = frozenset({"update", "setdefault", "__setitem__", "__ior__"})
# `setattr(x, "attr", v)`, `object.__setattr__(x, "attr", v)`
SETATTR_CALLEES = frozenset({"setattr", "object.__setattr__"})
