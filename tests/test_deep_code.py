"""No analysis recurses on the depth of the user's code (issue 17).

Each input below is deeper than CPython's default recursion limit in the shape one analysis
walks (an `elif` chain for the statement walks, an implicitly concatenated key for
`string_value`, `or` chains for the LLM, scoped-value and ownership questions, a `model_copy()`
chain for copies of copies, nested `if` for nested compound statements, a chain of local
assignments). Each is checked in a fresh thread with the default stack size and the default
recursion limit (1000), so any analysis that recursed would fail the test, and must give the
same findings as its shallow equivalent. Only libcst's own code generator (positions) may use
the deep stack of `syntax.deep_stack`.
"""

from __future__ import annotations

import os
import re
import sys
import threading

import pytest
from deep_shapes import PROGRAMS, marker, twins

from lint_rules.api import check_source

PIN = 'def pin(llm, conversation_id):\n    llm.extra_headers["x-litellm-session-id"] = conversation_id\n'


def _findings(source: str, depth: int = 0) -> list[tuple[str, int]]:
    """(code, row) of every finding, computed in a thread with the default stack and limit,
    `depth` frames down (a caller's own stack: flake8, an editor, a test runner)."""
    out: dict[str, object] = {}

    def check(level: int) -> list[tuple[str, int]]:
        if level:
            return check(level - 1)
        return [(d.code, d.start.row) for d in check_source(source, "deep.py")]

    def target() -> None:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(1000)
        try:
            out["found"] = check(depth)
        except BaseException as exc:  # reported below
            out["error"] = exc
        finally:
            sys.setrecursionlimit(old)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    assert "error" not in out, repr(out.get("error"))
    return out["found"]  # type: ignore[return-value]


def _elif_pin(n: int) -> str:
    """The write sits in the last branch of an n-branch `elif` chain."""
    return ("def pin(llm, conversation_id, x):\n    if x == 0:\n        pass\n"
            + "".join(f"    elif x == {i}:\n        pass\n" for i in range(1, n))
            + "    else:\n        llm.extra_headers['x-litellm-session-id'] = conversation_id\n")


def _concat_key(n: int) -> str:
    """The header key is an implicit concatenation of n parts."""
    return ("def pin(llm, conversation_id):\n    llm.extra_headers[(\n"
            + "".join('        ""\n' for _ in range(n - 1))
            + '        "x-litellm-session-id")] = conversation_id\n')


def _or_llm(n: int) -> str:
    """The LLM written to is `agent.llm0 or agent.llm1 or ...` (n terms)."""
    return ("def pin(agent, conversation_id):\n    llm = "
            + " or ".join(f"agent.llm{i}" for i in range(n - 1)) + " or agent.llm\n"
            + "    llm.extra_headers['x-litellm-session-id'] = conversation_id\n")


def _or_value(n: int) -> str:
    """The value written is `a0 or a1 or ... or conversation_id` (n terms)."""
    return ("def pin(llm, conversation_id, " + ", ".join(f"a{i}" for i in range(3)) + "):\n"
            "    value = " + " or ".join(f"a{i % 3}" for i in range(n - 1)) + " or conversation_id\n"
            "    llm._prompt_cache_key = value\n")


def _copy_chain(n: int) -> str:
    """The LLM written to is the parameter copied n times (`model_copy()` keeps the dict)."""
    return ("def pin(llm, conversation_id):\n    copy = llm" + ".model_copy()" * n + "\n"
            "    copy.extra_headers['x-litellm-session-id'] = conversation_id\n")


def _nested_ifs(n: int) -> str:
    return ("def pin(llm, conversation_id, x):\n"
            + "".join("    " * (i + 1) + f"if x > {i}:\n" for i in range(n))
            + "    " * (n + 1) + "llm.extra_headers['x-litellm-session-id'] = conversation_id\n")


def _assign_chain(n: int) -> str:
    """The LLM written to is bound through a chain of n locals."""
    return ("def pin(llm, conversation_id):\n    v0 = llm\n"
            + "".join(f"    v{i} = v{i - 1}\n" for i in range(1, n))
            + f"    v{n - 1}.extra_headers['x-litellm-session-id'] = conversation_id\n")


# ---------------------------------------------------------------- the analyses of issues 13-15
HOP = ("def stamp(target, sid):\n    target.extra_headers['x-litellm-session-id'] = sid\n\n\n"
       "class Conversation:\n    def __init__(self, agent):\n        self.agent = agent\n"
       "        self.id = 'c-1'\n\n")


def _hop_elif(n: int) -> str:
    """A call hop (a borrowed LLM handed to a writing callee) in the last branch of an elif."""
    return (HOP + "    def run(self, x):\n        if x == 0:\n            pass\n"
            + "".join(f"        elif x == {i}:\n            pass\n" for i in range(1, n))
            + "        else:\n            stamp(self.agent.llm, str(self.id))\n")


def _hop_concat(n: int) -> str:
    """The callee of a call hop writes under an n-part concatenated key."""
    return ("def stamp(target, sid):\n    target.extra_headers[(\n"
            + "".join('        ""\n' for _ in range(n - 1))
            + '        "x-litellm-session-id")] = sid\n\n\n' + HOP.split("\n\n\n", 1)[1]
            + "    def run(self):\n        stamp(self.agent.llm, str(self.id))\n")


def _hop_or(n: int) -> str:
    """The LLM handed to the callee is an n-term `or` chain."""
    return (HOP + "    def run(self):\n        stamp("
            + " or ".join(f"self.agent.llm{i}" for i in range(n - 1))
            + " or self.agent.llm, str(self.id))\n")


def _hop_nested(n: int) -> str:
    return (HOP + "    def run(self, x):\n"
            + "".join("    " * (i + 2) + f"if x > {i}:\n" for i in range(n))
            + "    " * (n + 2) + "stamp(self.agent.llm, str(self.id))\n")


def _helper_chain(n: int) -> str:
    """h0 calls h1 ... calls hn, which writes: n call hops down (summaries bottom-up)."""
    return ("".join(f"def h{i}(target, sid):\n    h{i + 1}(target, sid)\n\n\n" for i in range(n))
            + f"def h{n}(target, sid):\n    target.extra_headers['x-litellm-session-id'] = sid\n\n\n"
            + HOP.split("\n\n\n", 1)[1] + "    def run(self):\n        h0(self.agent.llm, str(self.id))\n")


def _provenance_from_caller(n: int) -> str:
    """A library setting takes a parameter through a chain of n locals (provenance)."""
    return ("import litellm\n\n\nclass Tenant:\n    def install(self, handler):\n        v0 = handler\n"
            + "".join(f"        v{i} = v{i - 1}\n" for i in range(1, n))
            + f"        litellm.success_callback = [v{n - 1}]\n")


def _provenance_from_env(n: int) -> str:
    """...and the process's own value through such a chain: silent (one finding before it)."""
    return ("import os\n\nimport litellm\n\n\nclass Tenant:\n    def install(self, handler):\n"
            "        litellm.callbacks.append(handler)\n        v0 = os.getenv('BASE')\n"
            + "".join(f"        v{i} = v{i - 1}\n" for i in range(1, n))
            + f"        litellm.success_callback = [v{n - 1}]\n")


def _provenance_owned_slot(n: int) -> str:
    """A cache slot keyed by a fresh uuid through a chain of n locals: owned, silent."""
    return ("import uuid\n\nCACHE = {}\n\n\ndef remember(api_key):\n    CACHE['x'] = api_key\n"
            "    k0 = uuid.uuid4().hex\n"
            + "".join(f"    k{i} = k{i - 1}\n" for i in range(1, n))
            + f"    CACHE[k{n - 1}] = api_key\n")


def _context_elif(n: int) -> str:
    """A call-context function (LLA007) whose LLM call sits in the last branch of an elif."""
    return ("def complete(llm, messages, x, call_context=None):\n    if x == 0:\n        pass\n"
            + "".join(f"    elif x == {i}:\n        pass\n" for i in range(1, n))
            + "    else:\n        return llm.completion(messages)\n")


def _context_or(n: int) -> str:
    return ("def complete(llm, messages, call_context=None):\n    return ("
            + " or ".join(f"llm{i}" for i in range(n - 1)) + " or llm).completion(messages)\n")


def _header_merge_copies(n: int) -> str:
    """A header merge (LLA004) whose pinned side is a copy of a copy ... of the LLM's headers."""
    return ("def build(llm, kwargs):\n    return (llm.extra_headers" + ".copy()" * n
            + ") | kwargs['extra_headers']\n")


def _header_merge_elif(n: int) -> str:
    return ("def build(llm, kwargs, x):\n    if x == 0:\n        pass\n"
            + "".join(f"    elif x == {i}:\n        pass\n" for i in range(1, n))
            + "    else:\n        return llm.extra_headers | kwargs['extra_headers']\n")


def _dict_spread_chain(n: int) -> str:
    """The headers written are `{**h}` of `{**h}` ... of a dict with the key (n locals)."""
    return ("def pin(llm, conversation_id):\n    h0 = {'x-litellm-session-id': conversation_id}\n"
            + "".join(f"    h{i} = {{**h{i - 1}}}\n" for i in range(1, n))
            + f"    llm.extra_headers = h{n - 1}\n")


SHAPES = {
    # shape: (builder, deep size, shallow size)
    "elif_chain": (_elif_pin, 1100, 3),
    "concatenated_key": (_concat_key, 3000, 2),
    "or_chain_of_llms": (_or_llm, 3000, 2),
    "or_chain_of_values": (_or_value, 3000, 2),
    "model_copy_chain": (_copy_chain, 400, 2),  # 4 frames a link when it recursed
    "nested_ifs": (_nested_ifs, 95, 2),
    "assignment_chain": (_assign_chain, 1500, 2),
    "call_hop_in_elif_chain": (_hop_elif, 1100, 3),
    "call_hop_to_concatenated_key": (_hop_concat, 3000, 2),
    "call_hop_of_or_chain": (_hop_or, 3000, 2),
    "call_hop_in_nested_ifs": (_hop_nested, 95, 2),
    "call_hop_helper_chain": (_helper_chain, 1100, 2),
    "provenance_chain_from_caller": (_provenance_from_caller, 1100, 2),
    "provenance_chain_from_env": (_provenance_from_env, 1100, 2),
    "provenance_chain_owned_slot": (_provenance_owned_slot, 1100, 2),
    "call_context_in_elif_chain": (_context_elif, 1100, 3),
    "call_context_or_chain": (_context_or, 3000, 2),
    "header_merge_of_copies": (_header_merge_copies, 1100, 2),
    "header_merge_in_elif_chain": (_header_merge_elif, 1100, 3),
    "dict_spread_chain": (_dict_spread_chain, 1200, 2),
}


def _shape_of(line: str) -> str:
    """A line without its indentation and numbers (`v1499.x` and `v1.x` are the same write),
    and its repeats collapsed (`a or a or a` and `a or a`, `x.copy().copy()` and `x.copy()`)."""
    line = re.sub(r"\d+", "N", line.strip())
    line = re.sub(r"([\w.]+N)( or \1)+", r"\1", line)
    line = re.sub(r"(\.copy\(\))+", r".copy()", line)
    return line


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_deep_code_gives_the_findings_of_its_shallow_equivalent(shape):
    build, deep, shallow = SHAPES[shape]
    shallow_source, deep_source = build(shallow), build(deep)
    compile(deep_source, shape, "exec")  # valid Python at the default limit
    expected = _findings(shallow_source)
    assert expected, shallow_source  # the shape is a finding at all
    got = _findings(deep_source)
    # Same codes, each on the same line of code (the deep input has more lines before it).
    shallow_lines, deep_lines = shallow_source.splitlines(), deep_source.splitlines()
    assert [code for code, _ in got] == [code for code, _ in expected], (shape, got, expected)
    for (_, deep_row), (_, shallow_row) in zip(got, expected):
        assert _shape_of(deep_lines[deep_row - 1]) == _shape_of(shallow_lines[shallow_row - 1]), (
            shape, got, expected)
    assert len({row for _, row in got}) == len(got)


# ------------------------------------------------------------------ generated programs
# One seeded program per rule by default (the whole file stays well under a minute);
# `LLA_DEEP_SEEDS=0-49 pytest tests/test_deep_code.py -k generated` runs 50 seeds of each.
def _seeds() -> list[int]:
    spec = os.environ.get("LLA_DEEP_SEEDS", "")
    if not spec:
        return [17]
    low, _, high = spec.partition("-")
    return list(range(int(low), int(high or low) + 1))


def _marked(source: str) -> list[tuple[str, str | None]]:
    lines = source.splitlines()
    return [(code, marker(lines[row - 1])) for code, row in _findings(source)]


@pytest.mark.parametrize("seed", _seeds())
@pytest.mark.parametrize("code", sorted(PROGRAMS))
def test_generated_deep_program_gives_the_findings_of_its_shallow_twin(code, seed):
    """Property: a rule's defect with deep constructs placed inside it (thousands of `elif`
    branches, statements, operands, classes; nesting to CPython's limits: see `deep_shapes`)
    gives, at the default recursion limit, exactly the findings of the same program with each
    construct one deep: no crash, no lost finding, no new one."""
    shallow, deep = twins(code, seed)
    compile(deep, f"{code}-{seed}", "exec")  # valid Python at the default limit
    expected = _marked(shallow)
    assert any(c == code and m is not None for c, m in expected), (code, seed, expected)
    assert _marked(deep) == expected, (code, seed)


def _loops_over_literals(n: int) -> str:
    """`for l1 in [l0]: ...; for l2 in [l1]: ...`: each loop variable is an LLM when the one
    before is (`iterates_llms` asks `is_llm` of a literal's elements, which asks again)."""
    lines = ["class Conversation:", "    def _pin_prompt_cache_key(self) -> None:",
             "        for l0 in self.agent.get_all_llms():", "            pass"]
    for i in range(1, n):
        lines += [f"        for l{i} in [l{i - 1}]:", "            pass"]
    return "\n".join(lines + [f"        l{n - 1}._prompt_cache_key = str(self.id)"]) + "\n"


def test_loops_over_literals_are_followed_to_the_documented_cap_then_unknown():
    """Within `ITERATION_NESTING` the chain is followed (LLA006 on the write); past it the
    answer is unknown, which is silent: never a crash (it recursed until issue 17's fix)."""
    from lint_rules.analysis.llm_objects import ITERATION_NESTING

    for n in (2, ITERATION_NESTING):
        source = _loops_over_literals(n)
        assert _findings(source) == [("LLA006", len(source.splitlines()))], n
    assert _findings(_loops_over_literals(300)) == []  # 200 ran out of stack before


def _alternating_guard(n: int) -> str:
    """A stale guard nested in n alternating `and`/`or` (each level parenthesised)."""
    guard = "'x-litellm-session-id' not in existing"
    for i in range(n):
        guard = f"(x{i} {'or' if i % 2 else 'and'} {guard})"
    return ("class Conversation:\n    def _pin(self, llm):\n"
            "        existing = llm.extra_headers or {}\n"
            f"        if {guard}:\n"
            "            llm.extra_headers = {'x-litellm-session-id': str(self.id), **existing}\n")


def test_alternating_guards_are_read_to_the_documented_cap_then_unknown():
    """`atoms` asks again for a disjunction inside a conjunction inside ...: one level is read
    (LLA003 on the guard), 150 were a RecursionError that lost every finding of the file; past
    the cap the guard is unknown (silent) and the merge that keeps the old value still counts."""
    assert [code for code, _ in _findings(_alternating_guard(1))] == ["LLA003", "LLA006", "LLA003"]
    assert _findings(_alternating_guard(150)) == [("LLA006", 5), ("LLA003", 5)]


def _long_sum_with_leaks(terms: int) -> str:
    """A leak write (LLA001), a process-global leak (LLA005, whose `ast` stage must see it)
    and a `+` of `terms` operands, which CPython's compiler and `ast` build by recursion."""
    return ("import os\n\n\ndef pin(llm, conversation_id):\n"
            "    llm.extra_headers['x-litellm-session-id'] = conversation_id\n\n\n"
            "class Tenant:\n    def install(self):\n"
            "        os.environ['AWS_ACCESS_KEY_ID'] = self.aws_access_key_id\n\n\n"
            "TOTAL = " + " + ".join(["1"] * terms) + "\n")


def test_a_long_sum_cpython_compiles_is_checked_whoever_asks():
    """CPython compiles a 2,000-term `+` at its default limit, but its compiler and `ast.parse`
    count the caller's frames: from 400 frames down they ran out, the file was LLA000 and its
    findings lost. The verdict is now taken on a fresh stack and `ast` retried on a deep one.
    (libcst's parser is quadratic in such a chain: 2,000 terms take seconds.)"""
    source = _long_sum_with_leaks(2000)
    assert [code for code, _ in _findings(source, 400)] == ["LLA001", "LLA005"]


def test_a_sum_past_cpythons_limit_is_a_syntax_error_of_that_file():
    """Past what CPython compiles at its default limit (it could not import the module either),
    the file is LLA000, reported (an error in the summary and the exit code), never a crash;
    libcst, whose parser would overflow the C stack, never sees it."""
    found = _findings(_long_sum_with_leaks(5000), 300)
    assert found == [("LLA000", 1)]


def test_default_recursion_limit_is_not_raised_by_a_check():
    """The analyses need no extra frames: a check leaves the limit where it was."""
    before = sys.getrecursionlimit()
    _findings(_elif_pin(1100) + "\n" + PIN)
    assert sys.getrecursionlimit() == before


def test_without_the_deep_stack_only_libcsts_code_generator_runs_out(monkeypatch):
    """The proof that no analysis recurses: with the deep-stack retry of `syntax.deep_stack`
    disabled, every deep shape either passes or runs out of stack inside libcst's code
    generator (positions, `code_for_node`), never inside an analysis or a rule."""
    import traceback

    import lint_rules.syntax.deep_stack as deep_stack

    monkeypatch.setattr(deep_stack, "_with_stack", lambda fn, *args: fn(*args))
    for shape, (build, deep, _shallow) in sorted(SHAPES.items()):
        out: dict[str, object] = {}

        def target() -> None:
            old = sys.getrecursionlimit()
            sys.setrecursionlimit(1000)
            try:
                check_source(build(deep), "deep.py")
            except BaseException as exc:  # judged below
                out["error"] = exc
            finally:
                sys.setrecursionlimit(old)

        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
        error = out.get("error")
        if error is None:
            continue
        assert deep_stack.exhausted_stack(error), (shape, repr(error))
        ours = [f for f in traceback.extract_tb(error.__traceback__) if "/lint_rules/" in f.filename]
        assert ours and ours[-1].filename.endswith("deep_stack.py"), (shape, ours[-3:])
