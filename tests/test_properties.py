"""Properties over generated programs (hypothesmith) and arbitrary text/bytes (hypothesis).

- checking never raises, on any valid program and on any text at all;
- fixing keeps the program valid, is idempotent (a second fix is a no-op), and changes no
  character outside the edits of the fixes it reports;
- reading a file and writing it back unchanged gives the same bytes (encoding, BOM, endings).

Example counts stay modest for CI time; `pytest --hypothesis-show-statistics` prints how many
programs each property ran.
"""

from __future__ import annotations

import codecs
import difflib

import hypothesmith
import libcst as cst
from fix_rules import GOOD_TEST_RULES, PassToEllipsis
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import fix_source
from lint_rules.core.config import Config
from lint_rules.core.source import SourceDecodeError, decode_source
from lint_rules.engine import check_text
from lint_rules.rules import all_rules
from lint_rules.syntax.parse import libcst_parse, syntax_check

CONFIG = Config()
INDEX = ProjectIndex(CONFIG)
PROGRAMS = st.one_of(hypothesmith.from_grammar(), hypothesmith.from_node())
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
FEWER = settings(SETTINGS, max_examples=100)


def compiles(source: str) -> bool:
    return syntax_check(source, "t.py") is None


@SETTINGS
@given(PROGRAMS)
def test_check_never_raises_on_valid_programs(source):
    assume(compiles(source))
    # prefilter off: every rule walks every program, not only those with trigger tokens
    found = check_text(source, "t.py", CONFIG, INDEX, prefilter=False)
    assert "LLA000" not in {d.code for d in found}
    # and the prefilter never changes what is found
    assert check_text(source, "t.py", CONFIG, INDEX) == found


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.text())
def test_check_never_raises_on_any_text(text):
    found = check_text(text, "t.py", CONFIG, INDEX, prefilter=False)
    if not compiles(text):
        assert [d.code for d in found] == ["LLA000"]


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.binary())
def test_decode_raises_only_its_own_error(data):
    try:
        decoded = decode_source(data)
    except SourceDecodeError:
        return
    assert decoded.encode(decoded.text) == data  # read + write back = same bytes


LINES = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                blacklist_characters="\r\n\x00"), max_size=20),
                 min_size=1, max_size=8)


@SETTINGS
@given(LINES, st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=8, max_size=8),
       st.sampled_from(["utf-8", "utf-8-bom", "latin-1", "cp1252"]))
def test_bytes_round_trip_keeps_endings_bom_and_encoding(lines, endings, encoding):
    text = "".join(line + ending for line, ending in zip(lines, endings))
    if encoding == "utf-8-bom":
        data = codecs.BOM_UTF8 + text.encode("utf-8")
    elif encoding == "utf-8":
        data = text.encode("utf-8")
    else:
        header = f"# -*- coding: {encoding} -*-\n"
        try:
            data = (header + text).encode(encoding)
        except UnicodeEncodeError:
            assume(False)
    try:
        decoded = decode_source(data)
    except SourceDecodeError:
        return  # e.g. a line that looks like another coding cookie
    assert decoded.encode(decoded.text) == data


def changed_regions(before: str, after: str) -> list[tuple[int, int]]:
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return [(i1, i2) for tag, i1, i2, _, _ in matcher.get_opcodes() if tag != "equal"]


@SETTINGS
@given(PROGRAMS)
@example("try: pass\nexcept ()\\\r:\n pass\n")  # libcst drops the `\\` + lone CR
@example("try: pass\nexcept ():\n pass\n")
def test_fix_keeps_programs_valid_idempotent_and_local(source):
    """PassToEllipsis fixes every `pass` in one round (they never overlap): every character
    that differs must lie inside one of the reported edits, measured on the original text."""
    assume(compiles(source))
    result = fix_source(source, "t.py", CONFIG, index=INDEX, rules=[PassToEllipsis])
    event(f"pass statements fixed: {min(len(result.fixed), 3)}{'+' if len(result.fixed) > 3 else ''}")
    parsed = libcst_parse(source)
    if result.initial and isinstance(parsed, cst.Module) and parsed.code not in (
            source, source.removesuffix("\r")):
        # libcst loses a `\\` + lone CR continuation: no fix can be placed, none is made.
        assert result.error and "libcst does not reproduce" in result.error
        assert result.source == source and not result.fixed
        return
    assert result.error is None
    assert compiles(result.source)
    spans = [(e.start, e.end) for d in result.fixed for e in d.fix.edits]
    for start, end in changed_regions(source, result.source):
        assert any(s <= start and end <= e for s, e in spans), (start, end, spans)
    again = fix_source(result.source, "t.py", CONFIG, index=INDEX, rules=[PassToEllipsis])
    assert again.source == result.source and not again.fixed


@FEWER
@given(PROGRAMS, st.sampled_from(["x = 1\n", "y = f(f(1))\n", "if a:\n    pass\n"]))
def test_multi_round_fixes_converge_and_stay_valid(source, tail):
    """All well-behaved test rules plus every real rule, unsafe fixes included, over a
    generated program with something fixable appended."""
    assume(compiles(source))
    program = source + ("\n" if source and not source.endswith(("\n", "\r")) else "") + tail
    assume(compiles(program))
    rules = (*GOOD_TEST_RULES, *all_rules())
    result = fix_source(program, "t.py", CONFIG, index=INDEX, unsafe=True, rules=rules)
    assert result.error is None, result.error
    assert result.changed and compiles(result.source)
    again = fix_source(result.source, "t.py", CONFIG, index=INDEX, unsafe=True, rules=rules)
    assert again.source == result.source and not again.fixed


@FEWER
@given(PROGRAMS)
def test_real_rules_fix_generated_programs_safely(source):
    assume(compiles(source))
    result = fix_source(source, "t.py", CONFIG, index=INDEX, unsafe=True)
    event(f"real-rule findings: {bool(result.fixed or result.remaining)}")
    assert result.error is None, result.error
    assert compiles(result.source)
    if result.changed:
        again = fix_source(result.source, "t.py", CONFIG, index=INDEX, unsafe=True)
        assert again.source == result.source
