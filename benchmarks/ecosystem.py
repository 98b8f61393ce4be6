#!/usr/bin/env python3
"""Ecosystem check (after ruff's): run the tool on pinned agent-SDK releases, compare with a triage.

    python benchmarks/ecosystem.py                         # whole corpus (~10 min on 2 cores)
    python benchmarks/ecosystem.py --only openhands-sdk smolagents
    python benchmarks/ecosystem.py --compare main          # findings that differ from rev `main`
    python benchmarks/ecosystem.py --baseline-tool /path/to/other/checkout
    python benchmarks/ecosystem.py --write-docs            # regenerate docs/real-world.md
    python benchmarks/ecosystem.py --add-new               # append unlabelled new findings to the triage

The corpus is `benchmarks/corpus.py` (downloaded on demand; a release that cannot be fetched is
skipped and reported). Each release's source root is checked with
`python -P -m lint_rules check --no-cache --output-format json --exit-zero .` run from this
checkout (PYTHONPATH), whatever is installed.

Every finding is matched against `benchmarks/ecosystem_triage.toml`, whose entries are keyed by
(package, path relative to the release root, code, scope, line) where `scope` is the qualified
name of the innermost enclosing function/class (`Class.method`, `<module>` at top level,
`<unparsed>` when the file does not parse) and `line` the stripped text of the reported line. No
version and no line number: a finding that only moved keeps its label. An entry that no longer
matches exactly is still matched when exactly one entry agrees on (package, path, code, scope) or
on (package, path, code, line) (reported as a loose match: the line was edited, or it moved to
another function). Each entry carries `verdict = true|false`, a one-line `reason`, and
`seen_in` (the versions it was observed in, informational; also used so that a run restricted to
some versions does not report the others' entries as vanished).

Output: per-package wall time and counts per code, new findings (not in the triage), vanished
findings (in the triage for a version that was run, no longer produced), and precision
(true / labelled) overall and per code. Exit 1 when a finding has no verdict (new, or in the
triage without one), 2 on a usage error, else 0.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

TRIAGE = HERE / "ecosystem_triage.toml"
DOC = REPO / "docs" / "real-world.md"
CODES = [f"LLA00{i}" for i in range(8)]
BEGIN, END = "<!-- ecosystem:begin -->", "<!-- ecosystem:end -->"


# ---------------------------------------------------------------------------- keys
@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    path: str  # relative to the release root, '/' separated
    code: str
    scope: str
    line: str  # stripped text of the reported line
    row: int
    message: str = field(compare=False, default="")

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.package, self.path, self.code, self.scope, self.line)


def scope_index(source: str) -> list[tuple[int, int, str]] | None:
    """(first line, last line, qualname) of every function and class; None if it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                spans.append((first, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def scope_at(spans: list[tuple[int, int, str]] | None, row: int) -> str:
    if spans is None:
        return "<unparsed>"
    best = "<module>"
    for first, last, name in spans:  # pre-order: a later hit is nested deeper
        if first <= row <= last:
            best = name
    return best


def to_findings(package: str, version: str, root: Path, records: list[dict]) -> list[Finding]:
    cache: dict[str, tuple[list[str], list | None]] = {}
    out = []
    for rec in records:
        path = Path(rec["filename"])
        if not path.is_absolute():
            path = root / path
        try:
            rel = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            rel = path.as_posix()
        if rel not in cache:
            try:
                text = path.read_bytes().decode("utf-8", "replace")
            except OSError:
                text = ""
            cache[rel] = (text.splitlines(), scope_index(text))
        lines, spans = cache[rel]
        row = int((rec.get("location") or {}).get("row") or 0)
        line = lines[row - 1].strip() if 0 < row <= len(lines) else ""
        out.append(Finding(package, version, rel, rec["code"], scope_at(spans, row), line, row,
                           rec.get("message", "")))
    out.sort(key=lambda f: (f.package, f.version, f.path, f.row, f.code))
    return out


# ---------------------------------------------------------------------------- triage
@dataclass
class Entry:
    package: str
    path: str
    code: str
    scope: str
    line: str
    verdict: bool | None
    reason: str
    seen_in: list[str]

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.package, self.path, self.code, self.scope, self.line)


def load_triage(path: Path) -> list[Entry]:
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    out = []
    for item in data.get("finding", []):
        verdict = item.get("verdict")
        out.append(Entry(item["package"], item["path"], item["code"], item.get("scope", ""),
                         item.get("line", ""), verdict if isinstance(verdict, bool) else None,
                         item.get("reason", ""), list(item.get("seen_in", []))))
    return out


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def dump_triage(entries: list[Entry]) -> str:
    head = ("# Triage of llm-affinity-lint findings on the pinned corpus (benchmarks/corpus.py).\n"
            "# Written by `python benchmarks/ecosystem.py --add-new`, labelled by hand.\n"
            "# Key: package, path (relative to the release root), code, scope (qualname of the\n"
            "# enclosing function/class), line (stripped text of the reported line).\n"
            "# verdict: true = a real instance of the bug family (/work/shared/domain.md), false = not.\n")
    chunks = [head]
    for e in sorted(entries, key=lambda e: (e.package, e.path, e.code, e.scope, e.line)):
        rows = ["[[finding]]",
                f"package = {_toml_str(e.package)}",
                f"path = {_toml_str(e.path)}",
                f"code = {_toml_str(e.code)}",
                f"scope = {_toml_str(e.scope)}",
                f"line = {_toml_str(e.line)}"]
        if e.verdict is not None:
            rows.append(f"verdict = {'true' if e.verdict else 'false'}")
        rows.append(f"reason = {_toml_str(e.reason)}")
        rows.append("seen_in = [" + ", ".join(_toml_str(v) for v in sorted(set(e.seen_in), key=_vkey)) + "]")
        chunks.append("\n".join(rows) + "\n")
    return "\n".join(chunks)


def _vkey(v: str):
    return tuple(int(p) if p.isdigit() else p for p in v.replace("-", ".").split("."))


class Matcher:
    """Finding -> triage entry: exact key, else a unique loose match."""

    def __init__(self, entries: list[Entry]):
        self.entries = entries
        self.exact = {e.key: e for e in entries}
        self.by_scope: dict[tuple, list[Entry]] = defaultdict(list)
        self.by_line: dict[tuple, list[Entry]] = defaultdict(list)
        for e in entries:
            self.by_scope[(e.package, e.path, e.code, e.scope)].append(e)
            self.by_line[(e.package, e.path, e.code, e.line)].append(e)

    def match(self, f: Finding) -> tuple[Entry | None, bool]:
        """(entry, loose)."""
        e = self.exact.get(f.key)
        if e is not None:
            return e, False
        for table, k in ((self.by_scope, (f.package, f.path, f.code, f.scope)),
                         (self.by_line, (f.package, f.path, f.code, f.line))):
            hits = table.get(k, [])
            if len(hits) == 1:
                return hits[0], True
        return None, False


@dataclass
class Comparison:
    labelled: list[tuple[Finding, Entry, bool]]  # (finding, entry, loose)
    new: list[Finding]
    vanished: list[Entry]
    unlabelled: list[Finding]  # matched an entry without a verdict, or new


def compare_with_triage(findings: list[Finding], entries: list[Entry],
                        versions_run: dict[str, set[str]]) -> Comparison:
    m = Matcher(entries)
    labelled, new, unlabelled = [], [], []
    used: set[int] = set()
    for f in findings:
        e, loose = m.match(f)
        if e is None:
            new.append(f)
            unlabelled.append(f)
            continue
        used.add(id(e))
        if e.verdict is None:
            unlabelled.append(f)
        else:
            labelled.append((f, e, loose))
    vanished = [e for e in entries if id(e) not in used and e.package in versions_run
                and (not e.seen_in or set(e.seen_in) & versions_run[e.package])]
    return Comparison(labelled, new, vanished, unlabelled)


def precision(labelled: list[tuple[Finding, Entry, bool]]) -> dict[str, tuple[int, int]]:
    """code -> (true, labelled); key 'all' for the total."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for f, e, _ in labelled:
        for k in ("all", f.code):
            out[k][1] += 1
            out[k][0] += bool(e.verdict)
    return {k: (v[0], v[1]) for k, v in out.items()}


def fmt_precision(tp: int, n: int) -> str:
    return f"{tp}/{n} = {tp / n:.0%}" if n else "n/a"


# ---------------------------------------------------------------------------- running
@dataclass
class Run:
    release: corpus.Release
    findings: list[Finding]
    seconds: float
    error: str = ""


def tool_command(tool_root: Path) -> tuple[list[str], dict]:
    """`python -P -m lint_rules` with tool_root first on sys.path (-P: never the corpus folder)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tool_root),
                                                        *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("LLM_AFFINITY_LINT_CACHE_DIR", None)
    return [sys.executable, "-P", "-m", "lint_rules"], env


def run_tool(release: corpus.Release, tool_root: Path, timeout: float, jobs: int | None) -> Run:
    base, env = tool_command(tool_root)
    cmd = [*base, "check", "--no-cache", "--output-format", "json", "--exit-zero", "-q", "."]
    if jobs:
        cmd[-1:-1] = ["--jobs", str(jobs)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=release.root, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return Run(release, [], time.perf_counter() - start, f"timed out after {timeout:.0f} s")
    seconds = time.perf_counter() - start
    try:
        records = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        err = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return Run(release, [], seconds, f"tool failed: {err[:200]}")
    e = release.entry
    return Run(release, to_findings(e.name, e.version, release.root, records), seconds)


def checkout_rev(rev: str) -> Path:
    """`git archive REV` of this repository into a temporary folder (no checkout, no worktree)."""
    dest = Path(tempfile.mkdtemp(prefix="lla-baseline-"))
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "lint_rules"],
                             capture_output=True)
    if archive.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        msg = archive.stderr.decode(errors="replace").strip().splitlines()
        raise SystemExit(f"error: cannot read revision {rev!r}: {msg[-1] if msg else 'git archive failed'}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def diff_runs(ours: list[Finding], theirs: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """Findings only in ours, only in theirs (multiset on the stable key + version)."""
    def bag(fs):
        return Counter((f.version, *f.key) for f in fs)
    a, b = bag(ours), bag(theirs)
    only_a = a - b
    only_b = b - a

    def pick(fs, want):
        out, want = [], Counter(want)
        for f in fs:
            k = (f.version, *f.key)
            if want[k] > 0:
                want[k] -= 1
                out.append(f)
        return out
    return pick(ours, only_a), pick(theirs, only_b)


# ---------------------------------------------------------------------------- reporting
def counts_table(runs: list[Run], skipped: list[corpus.Release]) -> list[str]:
    lines = ["| package | version | .py files | time | " + " | ".join(CODES) + " |",
             "| --- | --- | ---: | ---: | " + " | ".join("---:" for _ in CODES) + " |"]
    for r in runs:
        c = Counter(f.code for f in r.findings)
        t = f"{r.seconds:.1f} s" if not r.error else r.error
        lines.append(f"| {r.release.entry.name} | {r.release.entry.version} | {r.release.files} | {t} | "
                     + " | ".join(str(c.get(code, 0)) for code in CODES) + " |")
    for s in skipped:
        lines.append(f"| {s.entry.name} | {s.entry.version} | - | skipped: {s.error} | "
                     + " | ".join("-" for _ in CODES) + " |")
    return lines


def describe(f: Finding) -> str:
    return f"{f.package} {f.version} {f.path}:{f.row} {f.code} [{f.scope}] `{f.line}`"


def render_doc(runs: list[Run], skipped: list[corpus.Release], comp: Comparison, command: str,
               total_seconds: float) -> str:
    prec = precision(comp.labelled)
    today = datetime.date.today().isoformat()
    out = [BEGIN,
           f"Generated {today} by `{command}` (Python {platform.python_version()}, "
           f"{os.cpu_count()} cores; whole run {total_seconds:.0f} s wall, times are per release and "
           "include the tool's start-up). The settings each SDK's maintainers get without configuring "
           "anything (the defaults and the preset inferred from `[project] name`), `--no-cache`; "
           "every finding is matched "
           "against `benchmarks/ecosystem_triage.toml`.",
           "",
           "### Findings per release",
           "",
           *counts_table(runs, skipped),
           "",
           "### Precision (true / labelled)",
           "",
           "| code | true | false | precision |",
           "| --- | ---: | ---: | ---: |"]
    for code in [*CODES, "all"]:
        tp, n = prec.get(code, (0, 0))
        if n or code == "all":
            out.append(f"| {code} | {tp} | {n - tp} | {fmt_precision(tp, n)} |")
    no000 = [(f, e, l) for f, e, l in comp.labelled if f.code != "LLA000"]
    tp = sum(bool(e.verdict) for _, e, _ in no000)
    out += ["", f"Without LLA000 (parse failures): {fmt_precision(tp, len(no000))}.", ""]
    if comp.unlabelled:
        out += [f"**{len(comp.unlabelled)} finding(s) without a verdict** (run with `--add-new` and label them).", ""]
    out += ["### Every finding", ""]
    by_pkg: dict[tuple[str, str], list] = defaultdict(list)
    for f, e, loose in comp.labelled:
        by_pkg[(f.package, f.version)].append((f, e))
    for f in comp.unlabelled:
        by_pkg[(f.package, f.version)].append((f, None))
    for r in runs:
        key = (r.release.entry.name, r.release.entry.version)
        items = sorted(by_pkg.get(key, []), key=lambda fe: (fe[0].path, fe[0].row, fe[0].code))
        if not items:
            continue
        out += [f"#### {key[0]} {key[1]}", "", "| where | scope | code | verdict | why |",
                "| --- | --- | --- | --- | --- |"]
        for f, e in items:
            verdict = "unlabelled" if e is None else ("TP" if e.verdict else "FP")
            why = (e.reason if e else "").replace("|", "\\|")
            out.append(f"| `{f.path}:{f.row}` | `{f.scope}` | {f.code} | {verdict} | {why} |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def write_doc(block: str) -> None:
    text = DOC.read_text() if DOC.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = (text.rstrip() + "\n\n" if text else "# llm-affinity-lint on real agent-SDK code\n\n") + block + "\n"
    DOC.write_text(text)


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Ecosystem check: run llm-affinity-lint on the pinned agent-SDK corpus and "
                    "compare every finding with benchmarks/ecosystem_triage.toml.")
    corpus.add_arguments(parser)
    parser.add_argument("--triage", type=Path, default=TRIAGE, help="triage file (default: %(default)s)")
    parser.add_argument("--compare", metavar="REV", help="also run the tool of git revision REV "
                        "(git archive into a temp folder) and print the findings that differ")
    parser.add_argument("--baseline-tool", type=Path, metavar="PATH",
                        help="also run the tool of this checkout (a folder holding lint_rules/)")
    parser.add_argument("--write-docs", action="store_true", help=f"regenerate the generated part of {DOC.relative_to(REPO)}")
    parser.add_argument("--add-new", action="store_true",
                        help="append new findings to the triage file without a verdict (label them by hand)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per release (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes for the tool")
    parser.add_argument("--verbose", "-v", action="store_true", help="also list every labelled finding")
    args = parser.parse_args(argv)
    if args.compare and args.baseline_tool:
        parser.error("--compare and --baseline-tool are exclusive")

    entries = corpus.select(args.only)
    started = time.perf_counter()
    releases = corpus.fetch_all(entries, args.cache_dir)
    fetched = [r for r in releases if r.ok]
    skipped = [r for r in releases if not r.ok]
    if not fetched:
        print("error: no release of the corpus could be fetched", file=sys.stderr)
        return 2

    baseline_root: Path | None = None
    cleanup: Path | None = None
    if args.compare:
        baseline_root = cleanup = checkout_rev(args.compare)
    elif args.baseline_tool:
        baseline_root = args.baseline_tool.resolve()
        if not (baseline_root / "lint_rules").is_dir():
            print(f"error: {baseline_root} holds no lint_rules/ package", file=sys.stderr)
            return 2

    runs: list[Run] = []
    base_runs: list[Run] = []
    try:
        for rel in fetched:
            print(f"  checking {rel.entry.key} ({rel.files} files)", file=sys.stderr, flush=True)
            run = run_tool(rel, REPO, args.timeout, args.jobs)
            runs.append(run)
            note = f" ERROR: {run.error}" if run.error else ""
            print(f"    {len(run.findings)} findings, {run.seconds:.1f} s{note}", file=sys.stderr, flush=True)
            if baseline_root is not None:
                base_runs.append(run_tool(rel, baseline_root, args.timeout, args.jobs))
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
    total = time.perf_counter() - started

    findings = [f for r in runs for f in r.findings]
    triage = load_triage(args.triage)
    versions_run: dict[str, set[str]] = defaultdict(set)
    for r in runs:
        if not r.error:
            versions_run[r.release.entry.name].add(r.release.entry.version)
    comp = compare_with_triage([f for r in runs if not r.error for f in r.findings], triage, versions_run)

    print("## Findings per release (wall time includes start-up)\n")
    print("\n".join(counts_table(runs, skipped)))
    print(f"\nwhole run: {total:.0f} s")
    if skipped:
        print("\nskipped (could not fetch):")
        for s in skipped:
            print(f"  {s.entry.key}: {s.error}")
    print(f"\n## New findings (not in the triage): {len(comp.new)}")
    for f in comp.new:
        print(f"  NEW {describe(f)}")
    print(f"\n## Vanished findings (in the triage, not produced): {len(comp.vanished)}")
    for e in comp.vanished:
        print(f"  GONE {e.package} {e.path} {e.code} [{e.scope}] `{e.line}`")
    loose = [(f, e) for f, e, l in comp.labelled if l]
    if loose:
        print(f"\n## Loosely matched (line edited or moved; update the triage key): {len(loose)}")
        for f, e in loose:
            print(f"  LOOSE {describe(f)}  ~  [{e.scope}] `{e.line}`")
    if args.verbose:
        print("\n## Labelled findings")
        for f, e, _ in comp.labelled:
            print(f"  {'TP' if e.verdict else 'FP'} {describe(f)}: {e.reason}")
    prec = precision(comp.labelled)
    print("\n## Precision (true / labelled)")
    for code in [*CODES, "all"]:
        tp, n = prec.get(code, (0, 0))
        if n:
            print(f"  {code:7s} {fmt_precision(tp, n)}")
    no000 = [(f, e) for f, e, _ in comp.labelled if f.code != "LLA000"]
    print(f"  without LLA000: {fmt_precision(sum(bool(e.verdict) for _, e in no000), len(no000))}")
    unl = [f for f in comp.unlabelled if f not in comp.new]
    if unl:
        print(f"\n## In the triage without a verdict: {len(unl)}")
        for f in unl:
            print(f"  UNLABELLED {describe(f)}")

    if baseline_root is not None:
        mine, theirs = diff_runs(findings, [f for r in base_runs for f in r.findings])
        label = args.compare or str(args.baseline_tool)
        print(f"\n## Differences against {label}: +{len(mine)} -{len(theirs)}")
        for f in mine:
            print(f"  + {describe(f)}")
        for f in theirs:
            print(f"  - {describe(f)}")
        for a, b in zip(runs, base_runs):
            if b.error:
                print(f"  baseline {b.release.entry.key}: {b.error}")

    if args.add_new:
        # New findings become entries without a verdict; matched entries learn new versions.
        keys = {e.key for e in triage}
        for f in comp.new:
            if f.key not in keys:  # the same finding in several versions: one entry
                keys.add(f.key)
                triage.append(Entry(f.package, f.path, f.code, f.scope, f.line, None, "", []))
        m = Matcher(triage)
        for f in findings:
            e, _ = m.match(f)
            if e is not None and f.version not in e.seen_in:
                e.seen_in.append(f.version)
        args.triage.write_text(dump_triage(triage))
        print(f"\nwrote {args.triage} ({len(comp.new)} new entries without a verdict)")

    if args.write_docs:
        cmd = "python benchmarks/ecosystem.py --write-docs" + (
            f" --only {' '.join(args.only)}" if args.only else "")
        write_doc(render_doc(runs, skipped, comp, cmd, total))
        print(f"wrote {DOC}")
    errors = [r for r in runs if r.error]
    if errors:
        for r in errors:
            print(f"error: {r.release.entry.key}: {r.error}", file=sys.stderr)
    return 1 if comp.unlabelled or errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
