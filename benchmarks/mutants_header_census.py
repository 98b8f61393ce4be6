#!/usr/bin/env python3
"""Mutation check for LLA004's project fact (issue 14): a replace of an LLM's headers by the
caller's loses a conversation-scoped header only when the project can put one into an LLM's
header field.

    python benchmarks/mutants_header_census.py [--wheels DIR]

For each pinned openhands-sdk release (wheels from `/work/sdk-cache`, else `pip download
--no-deps` of the pinned release into a temp folder), the package is unpacked into a temp folder:

- *replace sites* are found automatically: every file of the package that mentions a header
  keyword is checked alone, outside any package (no census, today's verdict), and what LLA004
  reports there is a site;
- *pin sites* are found automatically: every class whose `__init__` takes an `agent` parameter
  (the conversations); a shape is appended to the end of that `__init__`;
- positive shapes put the conversation's header into an LLM's header field (the seed PR's pin
  and other spellings, some through a new module of the package): every replace site must then
  be reported (recall = sites reported / sites, per shape);
- safe shapes mention or send the header without storing it into an LLM's header field: the
  replace sites must stay silent (a false alarm is a reported site).

The tool runs on the replace-site files in place (the census sees the whole mutated tree).

Expected: every site reported under a pin, except a site in a header-replacing step whose every
caller re-injects the key later (openhands-sdk 1.58.2's `apply_extra_headers`: both callers run
`apply_llm_call_context(out, context)` afterwards, read in the code); there silence is right,
so recall is printed per release.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import corpus  # benchmarks/ is on sys.path when a script here runs

RELEASES = {
    "openhands_sdk-1.20.0": "openhands-sdk==1.20.0",
    "openhands_sdk-1.30.0": "openhands-sdk==1.30.0",
    "openhands_sdk-1.58.2": "openhands-sdk==1.58.2",
}
KEY = '"x-litellm-session-id"'
KEYWORDS = ("extra_headers", "default_headers")

# (name, positive?, body lines appended to `__init__`, extra modules {relative path: text})
SHAPES: list[tuple[str, bool, str, dict[str, str]]] = [
    ("seed PR pin (guarded copy, written back)", True, f"""\
for _llm in list(self.agent.get_all_llms()):
    _existing = dict(_llm.extra_headers or {{}})
    if {KEY} not in _existing:
        _existing[{KEY}] = str(self.id)
    _llm.extra_headers = _existing""", {}),
    ("item write", True, f"self.agent.llm.extra_headers[{KEY}] = str(self.id)", {}),
    ("update", True, f"self.agent.llm.extra_headers.update({{{KEY}: str(self.id)}})", {}),
    ("alias then item write", True, f"""\
_headers = self.agent.llm.extra_headers
_headers[{KEY}] = str(self.id)""", {}),
    ("setattr", True, f"setattr(self.agent.llm, 'extra_headers', {{{KEY}: str(self.id)}})", {}),
    ("pinned copy installed", True, f"""\
self.agent = self.agent.model_copy(update={{"llm": self.agent.llm.model_copy(
    update={{"extra_headers": {{**(self.agent.llm.extra_headers or {{}}), {KEY}: str(self.id)}}}})}})""", {}),
    ("constant from another module", True, """\
from openhands.sdk.llm._affinity_mut import SESSION_HEADER
self.agent.llm.extra_headers[SESSION_HEADER] = str(self.id)""",
     {"llm/_affinity_mut.py": f"SESSION_HEADER = {KEY}\n"}),
    ("header dict built by a helper module", True, """\
from openhands.sdk.llm._affinity_mut import session_headers
self.agent.llm.extra_headers = session_headers(str(self.id))""",
     {"llm/_affinity_mut.py": f"def session_headers(cid):\n    return {{{KEY}: cid}}\n"}),
    # ---- safe: the header is sent per call, named, or read; nothing scoped is stored
    ("safe: per-call kwarg", False, f"""\
def _send(messages, _self=self):
    return _self.agent.llm.completion(messages, extra_headers={{{KEY}: str(_self.id)}})
self._send_mut = _send""", {}),
    ("safe: request dict", False, f"""\
_options = {{}}
_options["extra_headers"] = {{**(_options.get("extra_headers") or {{}}), {KEY}: str(self.id)}}""", {}),
    ("safe: non-scoped header on the LLM", False,
     'self.agent.llm.extra_headers["X-Title"] = "app"', {}),
    ("safe: read the key", False,
     f"_sid = (self.agent.llm.extra_headers or {{}}).get({KEY})", {}),
    ("safe: key named in a message only", False,
     'self._note_mut = "x-litellm-session-id is injected per call"', {}),
]


def unpack(wheels: Path, into: Path) -> dict[str, Path]:
    return corpus.unpack_sources(RELEASES, wheels, into, skip_tests=False)


def lla004(paths: list[Path], cwd: Path) -> set[tuple[str, int]]:
    if not paths:
        return set()
    proc = subprocess.run([sys.executable, "-m", "lint_rules", "check", "--no-cache", "--select",
                           "LLA004", "--output-format", "json", *map(str, paths)],
                          capture_output=True, text=True, cwd=cwd)
    return {(str(Path(d["filename"]).resolve()), d["location"]["row"])
            for d in json.loads(proc.stdout or "[]")}


def replace_sites(package: Path, work: Path) -> tuple[list[Path], set[tuple[str, int]]]:
    """Files with a replace LLA004 reports when checked alone, and the sites in place."""
    alone = work / "alone"
    shutil.rmtree(alone, ignore_errors=True)
    alone.mkdir(parents=True)
    copies: dict[str, Path] = {}
    for i, path in enumerate(sorted(package.rglob("*.py"))):
        if any(k in path.read_text(encoding="utf-8", errors="replace") for k in KEYWORDS):
            copy = alone / f"f{i}.py"
            shutil.copy(path, copy)
            copies[str(copy.resolve())] = path
    found = lla004(sorted(alone.glob("*.py")), alone)
    sites = {(str(copies[f].resolve()), row) for f, row in found}
    files = sorted({copies[f] for f, _ in found})
    return files, sites


def pin_sites(package: Path) -> list[tuple[Path, int, str]]:
    """(file, line after the last statement of `__init__`, indent) of each conversation class."""
    out = []
    for path in sorted(package.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
            if init is None or "agent" not in [a.arg for a in init.args.args]:
                continue
            last = init.body[-1]
            lines = path.read_text(encoding="utf-8").splitlines()
            indent = lines[last.lineno - 1][: last.col_offset]
            out.append((path, last.end_lineno or last.lineno, indent))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheels", type=Path, default=Path("/work/sdk-cache"))
    args = parser.parse_args()
    rows: list[tuple[str, str, bool, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="mutants-census-") as tmp:
        work = Path(tmp)
        for release, root in unpack(args.wheels, work / "src").items():
            package = root / "openhands" / "sdk"
            files, sites = replace_sites(package, work)
            baseline = lla004(files, root) & sites
            conversations = pin_sites(package)
            print(f"{release}: {len(sites)} replace site(s) "
                  f"{sorted((Path(f).relative_to(root).as_posix(), r) for f, r in sites)}, "
                  f"reported with no pin: {len(baseline)}; {len(conversations)} pin site(s) "
                  f"{[p.relative_to(root).as_posix() for p, _, _ in conversations]}")
            if not sites:
                continue
            for name, positive, body, modules in SHAPES:
                for path, after, indent in conversations:
                    original = path.read_text(encoding="utf-8")
                    lines = original.splitlines(keepends=True)
                    snippet = "".join(indent + line + "\n" for line in body.splitlines())
                    mutated = "".join(lines[:after]) + snippet + "".join(lines[after:])
                    path.write_text(mutated, encoding="utf-8")
                    for rel, text in modules.items():
                        (package / rel).write_text(text, encoding="utf-8")
                    try:
                        reported = len(lla004(files, root) & sites)
                    finally:
                        path.write_text(original, encoding="utf-8")
                        for rel in modules:
                            (package / rel).unlink()
                    rows.append((release, name, positive, reported, len(sites)))
    print()
    print("| release | shape | kind | replace sites reported |")
    print("| --- | --- | --- | ---: |")
    for release, name, positive, reported, total in rows:
        print(f"| {release} | {name} | {'defect' if positive else 'safe'} | {reported}/{total} |")
    for release in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == release]
        print(f"{release}: reported under a pin {sum(r[3] for r in mine if r[2])}/"
              f"{sum(r[4] for r in mine if r[2])}, under a safe shape "
              f"{sum(r[3] for r in mine if not r[2])}/{sum(r[4] for r in mine if not r[2])}")
    positives = [r for r in rows if r[2]]
    safes = [r for r in rows if not r[2]]
    hit = sum(r[3] for r in positives)
    want = sum(r[4] for r in positives)
    alarms = sum(r[3] for r in safes)
    print(f"\nrecall: {hit}/{want} replace sites reported under a header pin; "
          f"false alarms: {alarms}/{sum(r[4] for r in safes)} sites reported under a safe shape")
    return 0


if __name__ == "__main__":
    sys.exit(main())
