"""Generated deep code for `test_deep_code.py` (issue 17): each rule's defect in a small program,
with deep constructs (thousands of `elif` branches, statements, operands, classes; nesting up to
CPython's indentation limit) placed *inside* the analysed shape, and its shallow twin (the same
program with each construct one or two deep).

A program is built from a template and a `Deep` chooser: `prefix` statements before the
statement that matters, `around` compound statements wrapped around it, `value` a long
expression that still carries the value that matters, `guard` a long condition that still
tests what matters, `hierarchy` a chain of classes deriving from an LLM class. The line of
each expected finding ends with a `# @name` marker, so findings compare by (code, marker)
whatever the lines before them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

# CPython compiles up to ~2,900 nested binary operations at its default recursion limit (its
# compiler counts frames) and 100 levels of indentation: the sizes stay below both.
MAX_OPERANDS = 2000
MAX_INDENT = 90


@dataclass
class Deep:
    """The deep constructs of one program: chosen by a seeded generator (`deep`) or all one
    deep (`shallow`), so both twins make the same choices."""

    rng: random.Random
    scale: int  # 1: the shallow twin

    def size(self, low: int, high: int) -> int:
        n = self.rng.randint(low, high)  # drawn for both twins: same choices after it
        return n if self.scale > 1 else min(2, low)

    def pick(self, options):
        return options[self.rng.randrange(len(options))]

    # ------------------------------------------------------------------ statements
    def prefix(self, indent: int) -> list[str]:
        """Statements before the one that matters (in the same function)."""
        pad = "    " * indent
        kind = self.pick(["elif", "nested", "assign", "binop", "concat", "loops"])
        if kind == "elif":
            n = self.size(1000, 1200)
            return ([f"{pad}if X == 0:", f"{pad}    pass"]
                    + [line for i in range(1, n) for line in (f"{pad}elif X == {i}:", f"{pad}    pass")])
        if kind == "nested":
            n = self.size(MAX_INDENT - indent - 10, MAX_INDENT - indent - 5)
            return [f"{pad}{'    ' * i}if X > {i}:" for i in range(n)] + [f"{pad}{'    ' * n}pass"]
        if kind == "assign":
            n = self.size(1000, 1200)
            return [f"{pad}t0 = X"] + [f"{pad}t{i} = t{i - 1}" for i in range(1, n)]
        if kind == "binop":
            op = self.pick([" + ", " or ", " and ", " | "])
            return [f"{pad}t = " + op.join(["X"] * self.size(1000, 1500))]
        if kind == "concat":
            n = self.size(1000, 2000)
            return [f"{pad}t = ("] + [f'{pad}    "part {i} "' for i in range(n)] + [f"{pad})"]
        n = self.size(MAX_INDENT - indent - 10, MAX_INDENT - indent - 5)
        heads = [_head(i, ["for _ in X:", "while X:", "with X:"]) for i in range(n)]
        return [f"{pad}{'    ' * i}{heads[i]}" for i in range(n)] + [f"{pad}{'    ' * n}pass"]

    def around(self, body: list[str], indent: int) -> list[str]:
        """The statement that matters (`body`, written at `indent`) inside compound statements:
        the last branch of an `elif` chain, the `else` of one, nested `if`s, or mixed blocks."""
        pad = "    " * indent
        kind = self.pick(["elif_last", "elif_first", "nested", "mixed"])
        shift = lambda lines, k: ["    " * k + line for line in lines]  # noqa: E731
        if kind in ("elif_last", "elif_first"):
            n = self.size(1000, 1200)
            out = [f"{pad}if X == 0:"] + (shift(body, 1) if kind == "elif_first" else [f"{pad}    pass"])
            for i in range(1, n):
                out += [f"{pad}elif X == {i}:", f"{pad}    pass"]
            return out + [f"{pad}else:"] + (shift(body, 1) if kind == "elif_last" else [f"{pad}    pass"])
        n = self.size(MAX_INDENT - indent - 10, MAX_INDENT - indent - 5)
        if kind == "nested":
            return [f"{pad}{'    ' * i}if X > {i}:" for i in range(n)] + shift(body, n)
        out: list[str] = []
        heads = [_head(i, ["with X:", "try:", "for _ in [X]:"]) for i in range(n)]
        for i in range(n):  # `try` keeps the body on every path; loops and `with` run it
            out.append(f"{pad}{'    ' * i}{heads[i]}")
        out += shift(body, n)
        for i in reversed(range(n)):
            if heads[i] == "try:":
                out += [f"{pad}{'    ' * i}finally:", f"{pad}{'    ' * (i + 1)}pass"]
        return out

    # ------------------------------------------------------------------ expressions
    def value(self, core: str) -> str:
        """A long expression whose value carries `core`'s (for scoped or credential values)."""
        kind = self.pick(["or", "plus", "ifexp", "methods", "fstring"])
        if kind == "or":
            return " or ".join(["Y"] * self.size(1000, 1500)) + f" or {core}"
        if kind == "plus":
            return " + ".join(['""'] * self.size(1000, 1500)) + f" + {core}"
        if kind == "ifexp":
            return f"{core} if X else " * self.size(1000, 1200) + core
        if kind == "methods":
            return f"{core}" + ".strip()" * self.size(700, 900)  # 2 levels a link
        return "f'" + "-{X}" * self.size(300, 600) + f"{{{core}}}'"

    def guard(self, core: str) -> str:
        """A long condition that holds only when `core` does (a conjunction)."""
        return " and ".join(["X"] * self.size(1000, 1500)) + f" and {core}"

    def hierarchy(self, base: str) -> tuple[list[str], str]:
        """Classes `L0(base)`, `L1(L0)`, ...: (their definitions, the last one's name)."""
        n = self.size(1000, 1200)
        lines = [f"class L0({base}):", "    pass", ""]
        for i in range(1, n):
            lines += [f"class L{i}(L{i - 1}):", "    pass", ""]
        return lines, f"L{n - 1}"


# CPython allows 20 statically nested blocks (loops, `with`, `try`); `if` is not one.
MAX_BLOCKS = 15


def _head(i: int, blocks: list[str]) -> str:
    """The i-th compound statement of a nesting: every fifth a block, at most MAX_BLOCKS."""
    k, rest = divmod(i, 5)
    return blocks[k % len(blocks)] if rest == 4 and k < MAX_BLOCKS else "if X:"


HEAD = ["from agentsdk.llm import LLM", "import os", "", "X = 0", "Y = None", ""]
SID = '"x-litellm-session-id"'


def _lla001(d: Deep) -> list[str]:
    """A conversation writes the affinity header onto the caller's LLM (and, through a call
    hop, hands the caller's LLM to a helper that writes)."""
    classes, leaf = d.hierarchy("LLM")
    write = [f"        target.extra_headers[{SID}] = {d.value('str(self.id)')}  # @write"]
    hop = [f"        stamp(self.agent.llm, {d.value('str(self.id)')})  # @hop"]
    return (HEAD + classes + [
        "def stamp(llm, sid):",
        f"    llm.extra_headers[{SID}] = sid  # @stamp",
        "",
        "class Conversation:",
        f"    def __init__(self, agent, target: {leaf}):",
        "        self.agent = agent",
        "        self.id = 'c-1'",
        *d.prefix(2),
        *d.around(write, 2),
        "",
        "    def run(self):",
        *d.around(hop, 2),
    ])


def _lla002(d: Deep) -> list[str]:
    swap = ['        self.agent = self.agent.model_copy(update={"llm": llm})  # @swap',
            "        self._pin_prompt_cache_key()"]
    return HEAD + [
        "import copy",
        "",
        "class Conversation:",
        "    def __init__(self, agent):",
        "        self.agent = copy.deepcopy(agent)",
        "        self._pin_prompt_cache_key()",
        "        self._pin_session_affinity_header(self.agent.llm)",
        "",
        "    def _pin_prompt_cache_key(self):",
        '        self.agent.llm = self.agent.llm.model_copy(update={"_prompt_cache_key": str(self.id)})',
        "",
        "    def _pin_session_affinity_header(self, llm):",
        "        self.agent.llm = llm.model_copy(",
        f"            update={{'extra_headers': {{**(llm.extra_headers or {{}}), {SID}: str(self.id)}}}}",
        "        )",
        "",
        "    def switch_llm(self, llm):",
        *d.prefix(2),
        *d.around(swap, 2),
    ]


def _lla003(d: Deep) -> list[str]:
    pin = [f"        if {d.guard(f'{SID} not in existing')}:  # @guard",
           f"            llm.extra_headers = {{{SID}: str(self.id), **existing}}  # @merge"]
    return HEAD + [
        "class Conversation:",
        "    def _pin_session_affinity_header(self, llm: LLM) -> None:",
        "        existing = llm.extra_headers or {}",
        *d.prefix(2),
        *d.around(pin, 2),
    ]


def _lla004(d: Deep) -> list[str]:
    bypass = ['    if "extra_headers" not in out:',
              '        out["extra_headers"] = dict(llm.extra_headers)  # @bypass']
    return HEAD + [
        "def select_chat_options(llm, user_kwargs):",
        "    out = dict(user_kwargs)",
        *d.prefix(1),
        *d.around(bypass, 1),
        "    return out",
    ]


def _lla005(d: Deep) -> list[str]:
    leak = [f'        os.environ["AWS_ACCESS_KEY_ID"] = {d.value("self.aws_access_key_id")}  # @environ']
    return HEAD + [
        "class TenantLLMConfig:",
        "    def model_post_init(self):",
        *d.prefix(2),
        *d.around(leak, 2),
    ]


def _lla006(d: Deep) -> list[str]:
    n = d.size(300, 350)  # 3-4 frames a link when `iterates_llms` recursed; ownership is O(n**2)
    chain = ["        l0 = self.agent.get_all_llms()"] + [
        f"        l{i} = list(l{i - 1})" for i in range(1, n)]
    loop = [f"        for llm in l{n - 1}:",
            f"            llm._prompt_cache_key = {d.value('str(self.id)')}  # @helper"]
    return HEAD + [
        "class Conversation:",
        "    def _pin_prompt_cache_key(self) -> None:",
        *chain,
        *d.prefix(2),
        *d.around(loop, 2),
    ]


def _lla007(d: Deep) -> list[str]:
    retry = ['        no_cache = llm.model_copy(update={"caching_prompt": False})',
             "        return no_cache.completion(messages)  # @derived"]
    return HEAD + [
        "def completion_with_cache_retry(llm, messages, call_context=None):",
        "    try:",
        "        return llm.completion(messages, call_context=call_context)",
        "    except PromptCacheError:",
        *d.prefix(2),
        *d.around(retry, 2),
    ]


def _lla008(d: Deep) -> list[str]:
    restart = ["        return Conversation(agent=self.agent)  # @restart"]
    return HEAD + [
        "class Conversation:",
        "    def fork(self):",
        "        return Conversation(",
        "            agent=self.agent,",
        "            parent_call_context=self._call_context,",
        "        )",
        "",
        "    def restart(self):",
        *d.prefix(2),
        *d.around(restart, 2),
    ]


PROGRAMS: dict[str, Callable[[Deep], list[str]]] = {
    "LLA001": _lla001, "LLA002": _lla002, "LLA003": _lla003, "LLA004": _lla004,
    "LLA005": _lla005, "LLA006": _lla006, "LLA007": _lla007, "LLA008": _lla008,
}


def twins(code: str, seed: int) -> tuple[str, str]:
    """(shallow, deep) programs for a rule and a seed: the same choices, different sizes."""
    build = PROGRAMS[code]
    shallow = build(Deep(random.Random(seed), 1))
    deep = build(Deep(random.Random(seed), 1000))
    return "\n".join(shallow) + "\n", "\n".join(deep) + "\n"


def marker(line: str) -> str | None:
    """The `# @name` marker at the end of a line, if any."""
    head, sep, name = line.rpartition("# @")
    return name.strip() if sep and name.strip().isidentifier() else None
