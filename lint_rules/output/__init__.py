"""Report formats: what `check --output-format` writes.

`write_diagnostics(diagnostics, fmt, stream)` writes the diagnostics in the order given (the
caller sorts). The machine formats (`json`, `json-lines`, `github`, `sarif`) write only their
document; summaries and hints are the caller's business.

- `concise`: one `path:row:col: CODE [*] message` line per finding (ruff's concise format).
- `full`: the concise header, then the source line with a caret underline and the fix's help.
- `json`: one JSON array in ruff's shape, so tools that read ruff's JSON read ours.
- `json-lines`: the same objects, one per line.
- `github`: GitHub Actions `::error` workflow commands (annotations on the pull request).
- `sarif`: a SARIF 2.1.0 log for code-scanning dashboards.
- `gitlab`: a GitLab Code Quality report (merge-request widget).
- `junit`: a JUnit XML report (test-report views of CI systems).
- `grouped`: the findings grouped by file, for people (ruff's `grouped`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

from lint_rules.core.diagnostics import Diagnostic
from lint_rules.output._common import fix_applies
from lint_rules.output.github import write_github
from lint_rules.output.gitlab import write_gitlab
from lint_rules.output.json_format import json_object, write_json, write_json_lines
from lint_rules.output.junit import write_junit
from lint_rules.output.sarif import sarif_log, write_sarif
from lint_rules.output.text import write_concise, write_full, write_grouped

__all__ = [
    "FORMATS",
    "fix_applies",
    "json_object",
    "sarif_log",
    "write_diagnostics",
]

FORMATS: tuple[str, ...] = ("concise", "full", "json", "json-lines", "github", "sarif", "gitlab",
                            "junit", "grouped")

_WRITERS: dict[str, Callable[..., None]] = {
    "concise": write_concise,
    "full": write_full,
    "json": write_json,
    "json-lines": write_json_lines,
    "github": write_github,
    "sarif": write_sarif,
    "gitlab": write_gitlab,
    "junit": write_junit,
    "grouped": write_grouped,
}


def write_diagnostics(
    diagnostics: Sequence[Diagnostic],
    fmt: str,
    stream: TextIO,
    *,
    fix_mode_hint: bool = True,
    unsafe_fixes: bool = False,
    internal_errors: Sequence[str] = (),
) -> None:
    """Write `diagnostics` to `stream` in format `fmt` (one of `FORMATS`).

    `fix_mode_hint` is ruff's "show fix status": when true, the text formats mark with `[*]` the
    findings whose fix would be applied by `--fix` (a safe fix, or an unsafe one when
    `unsafe_fixes` is true). Pass false when fixes were just applied, as ruff does: whatever is
    left was not fixable in this run. The machine formats always show every fix with its
    applicability and ignore both flags.
    """
    try:
        writer = _WRITERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown output format {fmt!r}; expected one of: {', '.join(FORMATS)}"
        ) from None
    if fmt == "sarif":  # code scanning must see that some files were not checked
        write_sarif(list(diagnostics), stream, internal_errors=list(internal_errors))
        return
    writer(list(diagnostics), stream, fix_mode_hint=fix_mode_hint, unsafe_fixes=unsafe_fixes)
