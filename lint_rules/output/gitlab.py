"""`gitlab`: a GitLab Code Quality report (the JSON array GitLab shows on merge requests), in
ruff's shape: `check_name`, `description`, `severity`, `fingerprint`, `location`.

Paths are relative to `$CI_PROJECT_DIR` when it is set (GitLab's checkout), else to the working
directory. The fingerprint hashes the path, code and message, plus the occurrence number of
that triple, never the row: a finding keeps its identity when lines are added above it, so
GitLab does not report it as fixed and new again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import PurePath
from typing import Any, TextIO

from lint_rules.core.diagnostics import Diagnostic


def _relative(path: str) -> str:
    base = os.environ.get("CI_PROJECT_DIR") or os.getcwd()
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, base)
    except ValueError:  # another drive (Windows)
        return PurePath(absolute).as_posix()
    return PurePath(absolute if rel.startswith("..") else rel).as_posix()


def gitlab_objects(diagnostics: list[Diagnostic]) -> list[dict[str, Any]]:
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for d in diagnostics:
        path = _relative(d.path)
        key = (path, d.code, d.message)
        seen[key] += 1
        digest = hashlib.blake2b(
            "\0".join((*key, str(seen[key]))).encode(), digest_size=8).hexdigest()
        out.append({
            "check_name": d.code,
            "description": f"{d.code}: {d.message}",
            "severity": "major",
            "fingerprint": digest,
            "location": {
                "path": path,
                "positions": {
                    "begin": {"line": d.start.row, "column": d.start.column},
                    "end": {"line": d.end.row, "column": d.end.column},
                },
            },
        })
    return out


def write_gitlab(diagnostics: list[Diagnostic], stream: TextIO, **_flags: bool) -> None:
    json.dump(gitlab_objects(diagnostics), stream, indent=2)
    stream.write("\n")
