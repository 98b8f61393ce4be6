"""The calls that change an object in place, as the write finder (`llm_writes.py`) reads them,
and the calls whose result carries a conversation-scoped argument (`scoped_values.py`).

One definition for the libcst analysis and for the `ast` stages (`rule_stages.py`), which must
over-approximate it: a function none of whose calls is one of these writes nothing in place
through a call.
"""

from __future__ import annotations

from lint_rules.core.config import Config

# `x.field.update(...)`, `x.field.setdefault(k, v)`, `x.field.__setitem__(k, v)`, `x.field |= ...`
MUTATING_METHODS = frozenset({"update", "setdefault", "__setitem__", "__ior__"})
# `setattr(x, "attr", v)`, `object.__setattr__(x, "attr", v)`
SETATTR_CALLEES = frozenset({"setattr", "object.__setattr__"})

# Callees (as spelled) whose result is scoped when an argument is: `str(cid)`, `dict(k=cid)`.
STRING_BUILTINS = frozenset({"str", "repr", "format", "bytes", "dict", "frozenset", "tuple"})
# Modules (a resolved callee's prefix) whose functions derive a value from their arguments.
HASH_MODULES = ("hashlib.", "uuid.", "base64.", "zlib.")
# Methods whose result is scoped when an argument is (`"-".join(parts)`); any method's result
# is scoped when its receiver is (`cid.lower()`).
ARGUMENT_METHODS = frozenset({"format", "join", "format_map"})


def id_keys(config: Config) -> frozenset[str]:
    """Keys spelled like a conversation id's last name, which a write pins on their own
    (`llm.kwargs["rollout_id"] = rid`); a bare `id` is too common to count."""
    return frozenset(e.rsplit(".", 1)[-1] for e in config.conversation_id_expressions
                     if e and e.rsplit(".", 1)[-1] not in ("id", "_id", ""))
