"""`llm-affinity-lint`: ruff's command line over the core API.

Exit codes: 0 no findings (or all fixed), 1 findings remain, 2 bad usage, bad config or an
internal error. Machine-readable output goes to stdout only; summaries go to stderr.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import os
import re
import signal
import sys
import threading
import tokenize
from collections import Counter
from pathlib import Path

from lint_rules.api import (
    MAX_FILE_BYTES,
    FileResult,
    check_source,
    describe_exception,
    fix_is_applicable,
    fix_source,
    internal_error,
    read_error,
)
from lint_rules.cache import check_cache_dir, clean_cache, default_cache_dir
from lint_rules.core.codes import SYNTAX_ERROR
from lint_rules.core.config import Config, ConfigError, ConfigResolver, discover_config, toml_value
from lint_rules.core.diagnostics import Diagnostic
from lint_rules.core.noqa import noqa_codes
from lint_rules.core.source import FileChangedError, SourceDecodeError, decode_source, file_digest, write_atomically
from lint_rules.core.version import __version__
from lint_rules.discovery import is_excluded
from lint_rules.output import FORMATS, write_diagnostics
from lint_rules.runner import RunOptions, run

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as argparse does, but no usage dump
        raise UsageError(message)


def _codes(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="llm-affinity-lint",
                     description="Find conversation-scoped values leaking onto shared LLMs.")
    parser.add_argument("--version", action="version", version=f"llm-affinity-lint {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = sub.add_parser("check", help="check files or directories (default: .)")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    fixing = check.add_argument_group("fixing")
    fixing.add_argument("--fix", action="store_true", default=None, help="apply safe fixes")
    fixing.add_argument("--no-fix", dest="fix", action="store_false", help="do not fix (overrides `fix = true`)")
    fixing.add_argument("--unsafe-fixes", action="store_true", default=None,
                        help="also apply (and show) unsafe fixes")
    fixing.add_argument("--no-unsafe-fixes", dest="unsafe_fixes", action="store_false",
                        help="overrides `unsafe-fixes = true`")
    fixing.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing")
    fixing.add_argument("--show-fixes", action="store_true", default=None, help="list what was fixed")
    fixing.add_argument("--no-show-fixes", dest="show_fixes", action="store_false",
                        help="overrides `show-fixes = true`")
    fixing.add_argument("--fix-only", action="store_true", help="apply fixes, do not report what remains")
    fixing.add_argument("--add-noqa", action="store_true",
                        help="append `# noqa: CODE` to every line with a finding (LLA000 aside)")
    fixing.add_argument("--exit-non-zero-on-fix", action="store_true",
                        help="exit 1 when anything was fixed, even if nothing remains")
    selection = check.add_argument_group("rule selection")
    selection.add_argument("--select", action="extend", type=_codes, metavar="CODES", help="only these codes/prefixes")
    selection.add_argument("--ignore", action="extend", type=_codes, metavar="CODES", help="skip these codes/prefixes")
    selection.add_argument("--extend-select", action="extend", type=_codes, metavar="CODES", help="add to the selection")
    selection.add_argument("--extend-ignore", action="extend", type=_codes, metavar="CODES", help="add to the ignores")
    files = check.add_argument_group("file selection")
    files.add_argument("--exclude", action="extend", type=_codes, metavar="GLOBS", help="replace the exclude globs")
    files.add_argument("--extend-exclude", action="extend", type=_codes, metavar="GLOBS", help="add exclude globs")
    files.add_argument("--force-exclude", action="store_true", default=None,
                       help="apply excludes to paths passed explicitly too (for pre-commit)")
    files.add_argument("--no-respect-gitignore", action="store_true", help="do not read .gitignore files")
    files.add_argument("--stdin-filename", metavar="PATH", help="read source from stdin, report it as PATH")
    out = check.add_argument_group("output")
    out.add_argument("--output-format", choices=FORMATS, default=None,
                     help="default: `output-format` from the settings, else concise")
    out.add_argument("--statistics", action="store_true", help="count findings per rule")
    out.add_argument("-q", "--quiet", action="store_true", help="print findings only, no summary")
    out.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
    cfg = check.add_argument_group("configuration")
    cfg.add_argument("--config", type=Path, metavar="PATH", help="use this pyproject.toml")
    cfg.add_argument("--show-settings", action="store_true", help="print the resolved settings and exit")
    cfg.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: one per core)")
    caching = check.add_argument_group("cache")
    caching.add_argument("--no-cache", action="store_true", help="neither read nor write the result cache")
    caching.add_argument("--cache-dir", type=Path, metavar="DIR",
                         help="cache folder (default: .llm_affinity_lint_cache in the project root)")

    clean = sub.add_parser("clean", help="remove the result cache")
    clean.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="find the project (and its cache) from here (default: .)")
    clean.add_argument("--cache-dir", type=Path, metavar="DIR", help="the cache folder to remove")
    clean.add_argument("--config", type=Path, metavar="PATH", help="use this pyproject.toml")

    rule = sub.add_parser("rule", help="explain a rule")
    rule.add_argument("code", nargs="?", metavar="CODE")
    rule.add_argument("--all", action="store_true", help="list every rule")
    return parser


class _StdinEcho:
    """`--stdin-filename` with `--fix`: an editor replaces its buffer with stdout, so stdout
    must be the input on every failure (bad config, internal error, interruption)."""

    pending = False  # the input must still be written to stdout
    data: bytes | None = None  # what was read from stdin so far

    @classmethod
    def read(cls, limit: int) -> bytes:
        cls.data = sys.stdin.buffer.read(limit)
        return cls.data

    @classmethod
    def write(cls, data: bytes) -> None:
        cls.pending = False
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        except (OSError, ValueError):
            pass

    @classmethod
    def flush_input(cls) -> None:
        if not cls.pending:
            return
        data = cls.data if cls.data is not None else b""
        try:
            data += sys.stdin.buffer.read()
        except (OSError, ValueError):
            pass
        cls.write(data)


_sigterm_owner = [0]  # the process whose run `_on_sigterm` ends


def _on_sigterm(signum, frame) -> None:  # noqa: ARG001
    """SIGTERM ends the run like Ctrl-C does: workers are terminated first, so none is left
    waiting forever on a pool whose parent is gone (r09)."""
    if os.getpid() != _sigterm_owner[0]:
        # A worker forked with this handler, terminated before it could reset it: die
        # quietly, as SIGTERM's default does (a KeyboardInterrupt would print a traceback).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    # The run ends here: the pool's manager thread may trip over the futures this cancels
    # (concurrent.futures raises InvalidStateError on a cancelled future); nothing it could
    # report matters now, and a traceback must not be the run's last word.
    threading.excepthook = lambda args: None
    _terminate_workers()
    raise KeyboardInterrupt


def _terminate_workers() -> None:
    multiprocessing = sys.modules.get("multiprocessing")  # not imported: no worker was started
    if multiprocessing is not None:
        for child in multiprocessing.active_children():
            child.terminate()


def main(argv: list[str] | None = None) -> int:
    _StdinEcho.pending, _StdinEcho.data = False, None
    if threading.current_thread() is threading.main_thread():
        try:
            _sigterm_owner[0] = os.getpid()
            signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):
            pass
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        _StdinEcho.flush_input()
        print(f"llm-affinity-lint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ConfigError as exc:
        _StdinEcho.flush_input()
        print(f"llm-affinity-lint: config error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _terminate_workers()
        _StdinEcho.flush_input()
        print("llm-affinity-lint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # a bug: one line, exit 2, and the editor keeps its buffer
        _StdinEcho.flush_input()
        print(f"llm-affinity-lint: internal error: {describe_exception(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "rule":
        return _rule(args)
    if args.command == "clean":
        return _clean(args)
    if args.command != "check":
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    return _check(args)


def _rule(args: argparse.Namespace) -> int:
    # The rules and their docs, loaded for this command only: `check` served from the cache
    # needs neither (their import is most of a warm run's start-up).
    from lint_rules.docs import render_rule
    from lint_rules.rules import documented_rules, get_rule

    if args.all:
        for rule in documented_rules():
            marker = " [*]" if rule.fix_description else ""
            print(f"{rule.code}  {rule.name}{marker}: {rule.summary}")
        return EXIT_CLEAN
    if not args.code:
        raise UsageError("give a rule code (e.g. `rule LLA001`) or --all")
    code = args.code.upper()
    rule = get_rule(code) or next((r for r in documented_rules() if r.name == args.code), None)
    if rule is None:
        raise UsageError(f"unknown rule '{args.code}'")
    print(render_rule(rule), end="")
    return EXIT_CLEAN


def _settings(args: argparse.Namespace) -> tuple[Config, Path | None, ConfigResolver]:
    """The resolver of per-file settings (closest table, then the command line's overrides),
    and the settings of the first path (or stdin's name): what --show-settings prints and
    where the cache lives."""
    table: dict[str, object] = {}
    for key in ("select", "ignore", "extend_select", "exclude", "extend_exclude"):
        value = getattr(args, key)
        if value is not None:
            table[key.replace("_", "-")] = value
    if args.extend_ignore:
        table["extend-ignore"] = args.extend_ignore
    if args.no_respect_gitignore:
        table["respect-gitignore"] = False
    if args.force_exclude:
        table["force-exclude"] = True
    resolver = ConfigResolver(table, args.config)
    anchor = Path(args.stdin_filename) if args.stdin_filename else (args.paths or [Path.cwd()])[0]
    config, root = resolver.for_path(anchor)
    return config, root, resolver


def _check(args: argparse.Namespace) -> int:
    if args.paths == [Path("-")]:  # ruff's `check -`: the source comes from stdin
        args.paths = []
        args.stdin_filename = args.stdin_filename or "-"
    elif Path("-") in args.paths:
        raise UsageError("'-' (read stdin) cannot be combined with other paths")
    if args.stdin_filename and (args.fix or args.fix_only) and not args.diff:
        _StdinEcho.pending = True  # a config error below must still echo the input
    if args.diff and args.fix_only:
        raise UsageError("--diff and --fix-only cannot be combined")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    config, root, resolver = _settings(args)
    _front_end_defaults(args, config)
    if args.stdin_filename and args.fix and not args.diff:  # `fix = true` in the table
        _StdinEcho.pending = True
    if args.show_settings:
        _show_settings(config, root)
        return EXIT_CLEAN
    fix = args.fix or args.fix_only or args.diff
    if args.add_noqa:
        if fix or args.stdin_filename:
            raise UsageError("--add-noqa cannot be combined with --fix, --diff or stdin")
        return _add_noqa(args, config, root, resolver)
    if args.stdin_filename:
        return _check_stdin(args, config, root, fix)

    paths = args.paths or [Path(".")]
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir(root))
    if cache_dir is not None:
        try:
            check_cache_dir(cache_dir)
        except OSError as exc:  # a symlinked cache folder: never write through it (r11)
            print(f"llm-affinity-lint: warning: {exc}", file=sys.stderr)
            cache_dir = None
    options = RunOptions(fix=fix, unsafe_fixes=args.unsafe_fixes, write=not args.diff, jobs=args.jobs,
                         cache_dir=cache_dir)
    result = run(paths, config, options, project_root=root, resolver=resolver)
    for error in result.errors:
        print(f"llm-affinity-lint: error: {error}", file=sys.stderr)
    if args.diff:
        changed = _print_diffs(result.files)
        _print_unchecked(result.diagnostics)
        _summary_diff(args, result.fixed)
        return EXIT_ERROR if result.errors else (EXIT_FINDINGS if changed else EXIT_CLEAN)
    if args.fix_only:
        _print_unchecked(result.diagnostics)
    return _report(args, result.diagnostics, result.fixed, result.errors)


def _front_end_defaults(args: argparse.Namespace, config: Config) -> None:
    """The command line's own settings from the first path's table (`output-format`, `fix`,
    ...), where no flag was given: flags win, then $LLM_AFFINITY_LINT_CACHE_DIR for the cache,
    then the table, then the defaults (ruff's order)."""
    front = dict(config.front_end)
    if args.output_format is None:
        args.output_format = front.get("output-format", "concise")
    for key in ("fix", "unsafe-fixes", "show-fixes"):
        dest = key.replace("-", "_")
        if getattr(args, dest) is None:
            setattr(args, dest, bool(front.get(key, False)))
    if (args.cache_dir is None and "cache-dir" in front
            and not os.environ.get("LLM_AFFINITY_LINT_CACHE_DIR")):
        args.cache_dir = Path(front["cache-dir"])


def _add_noqa(args: argparse.Namespace, config: Config, root: Path | None,
              resolver: ConfigResolver) -> int:
    """ruff's `--add-noqa`: silence what is found today, so that only new findings fail. A
    directive goes on the reported row (where it is read); a row whose end lies inside a
    multi-line string or after a backslash cannot take a comment: reported, left alone."""
    result = run(list(args.paths) or [Path(".")], config, RunOptions(jobs=args.jobs),
                 project_root=root, resolver=resolver)
    for error in result.errors:
        print(f"llm-affinity-lint: error: {error}", file=sys.stderr)
    by_file: dict[str, dict[int, set[str]]] = {}
    for d in result.diagnostics:
        if d.code != SYNTAX_ERROR[0]:  # ruff: invalid-syntax has no noqa row
            by_file.setdefault(d.path, {}).setdefault(d.start.row, set()).add(d.code)
    added = 0
    errors = list(result.errors)
    for path, rows in sorted(by_file.items()):
        try:
            done, skipped = _add_noqa_to_file(path, rows)
        except (OSError, FileChangedError, SourceDecodeError, UnicodeEncodeError) as exc:
            message = f"{path}: cannot add noqa directives: {exc}"
            print(f"llm-affinity-lint: error: {message}", file=sys.stderr)
            errors.append(message)
            continue
        added += done
        for row in skipped:
            print(f"llm-affinity-lint: warning: {path}:{row}: no noqa directive added: the line "
                  "ends inside a multi-line string or a continuation", file=sys.stderr)
    print(f"Added {added} noqa directive{'s' if added != 1 else ''}.", file=sys.stderr)
    return EXIT_ERROR if errors else EXIT_CLEAN


def _add_noqa_to_file(path: str, rows: dict[int, set[str]]) -> tuple[int, list[int]]:
    data = Path(path).read_bytes()
    decoded = decode_source(data)
    text = decoded.text
    blocked = _rows_without_comments(text)
    lines = text.split("\n")
    added, skipped = 0, []
    for row, codes in sorted(rows.items()):
        if row > len(lines) or row in blocked:
            skipped.append(row)
            continue
        line = lines[row - 1]
        body, cr = (line[:-1], "\r") if line.endswith("\r") else (line, "")
        present = noqa_codes(body)
        if present is not None and (not present or codes <= present):
            continue  # already silenced (a bare noqa, or the codes are listed)
        if present:
            merged = ", ".join(sorted(present | codes))
            body = _NOQA_CODES.sub(lambda m: f"{m.group(1)}{merged}", body, count=1)
        else:
            body = f"{body.rstrip()}  # noqa: {', '.join(sorted(codes))}"
        lines[row - 1] = body + cr
        added += 1
    if added:
        write_atomically(path, decoded.encode("\n".join(lines)), file_digest(data))
    return added, skipped


_NOQA_CODES = re.compile(r"(#\s*noqa\s*:\s*)[A-Z][0-9A-Z]*(?:[,\s]+[A-Z][0-9A-Z]*)*", re.IGNORECASE)


def _rows_without_comments(text: str) -> set[int]:
    """Rows whose end is inside a string token (a triple-quoted string spanning lines) or
    continued by a backslash: a comment appended there would change the code."""
    blocked = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.start[0] < token.end[0] and token.type != tokenize.NL and token.type != tokenize.NEWLINE:
                blocked.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    for row, line in enumerate(text.split("\n"), 1):
        if line.rstrip("\r").endswith("\\"):
            blocked.add(row)
    return blocked


def _print_unchecked(diagnostics: list[Diagnostic]) -> None:
    """--diff and --fix-only report no findings, but a file that could not be read or parsed
    was not fixed either: say so on stderr (as ruff does), one line per file."""
    for d in diagnostics:
        if d.code == SYNTAX_ERROR[0]:
            print(f"llm-affinity-lint: warning: {d.path}:{d.start.row}:{d.start.column}: "
                  f"{d.code} {d.message}", file=sys.stderr)

def _clean(args: argparse.Namespace) -> int:
    if args.cache_dir is not None:
        cache_dir = args.cache_dir
    else:
        config, root = discover_config(list(args.paths), args.config)
        front = dict(config.front_end)
        if "cache-dir" in front and not os.environ.get("LLM_AFFINITY_LINT_CACHE_DIR"):
            cache_dir = Path(front["cache-dir"])  # where `check` puts it
        else:
            cache_dir = default_cache_dir(root)
    try:
        removed = clean_cache(cache_dir)
    except OSError as exc:
        print(f"llm-affinity-lint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"Removed cache at: {cache_dir}" if removed else f"No cache at: {cache_dir}", file=sys.stderr)
    return EXIT_CLEAN


def _check_stdin(args: argparse.Namespace, config: Config, root: Path | None, fix: bool) -> int:
    path = args.stdin_filename
    data = _StdinEcho.read(MAX_FILE_BYTES + 1)
    echo = fix and not args.diff  # stdout must carry the (fixed) source: never drop the input
    if config.force_exclude and is_excluded(Path(path), config, project_root=root):
        # ruff's rule: an excluded file is not checked, even from stdin; the editor keeps it.
        if echo:
            _StdinEcho.flush_input()
        return EXIT_CLEAN
    problem = None
    decoded = None
    if len(data) > MAX_FILE_BYTES:
        data += sys.stdin.buffer.read() if echo else b""
        problem = f"input is too large to check (more than {MAX_FILE_BYTES} bytes)"
    else:
        try:
            decoded = decode_source(data)
        except SourceDecodeError as exc:
            problem = f"cannot decode input: {exc}"
    if decoded is None:
        if echo:
            _StdinEcho.write(data)
        return _report_to(args, [read_error(path, problem or "")], [], [], to_stderr=echo)
    # The checker, loaded when there is something to check (see `api`).
    from lint_rules.analysis.project_index import ProjectIndex

    index = ProjectIndex(config, [root] if root else [])
    if not fix:
        try:
            found = check_source(decoded.text, path, config, index)
        except Exception as exc:  # an internal error of this input: reported, exit 2
            error = internal_error(path, exc)
            print(f"llm-affinity-lint: error: {error}", file=sys.stderr)
            return _report(args, [], [], [error])
        return _report(args, found, [], [])
    try:
        result = fix_source(decoded.text, path, config, unsafe=args.unsafe_fixes, index=index)
    except Exception as exc:
        error = internal_error(path, exc)
        print(f"llm-affinity-lint: error: {error}", file=sys.stderr)
        if echo:
            _StdinEcho.write(data)
        return _report_to(args, [], [], [error], to_stderr=echo)
    error = result.error
    new_text = result.source if result.changed and result.source != decoded.text else None
    if new_text is not None:
        try:
            decoded.encode(new_text)
        except UnicodeEncodeError:
            error = f"fixed text cannot be encoded as {decoded.encoding}; input left unchanged"
            new_text = None
    errors = [f"{path}: {error}"] if error else []
    if error:
        print(f"llm-affinity-lint: error: {path}: {error}", file=sys.stderr)
    fixed = result.fixed if new_text is not None else []
    remaining = result.remaining if new_text is not None or not result.fixed else result.initial
    if args.diff:
        changed = _print_diffs([FileResult(path, remaining, fixed, decoded, new_text)])
        _print_unchecked(remaining)
        _summary_diff(args, fixed)
        return EXIT_ERROR if error else (EXIT_FINDINGS if changed else EXIT_CLEAN)
    # ruff's convention: the fixed source goes to stdout, the report to stderr.
    _StdinEcho.write(decoded.encode(new_text) if new_text is not None else data)
    return _report_to(args, remaining, fixed, errors, to_stderr=True)


def _report_to(args: argparse.Namespace, diagnostics: list[Diagnostic], fixed: list[Diagnostic],
               errors: list[str], *, to_stderr: bool) -> int:
    if not to_stderr:
        return _report(args, diagnostics, fixed, errors)
    saved, sys.stdout = sys.stdout, sys.stderr
    try:
        return _report(args, diagnostics, fixed, errors)
    finally:
        sys.stdout = saved


def _report(args: argparse.Namespace, diagnostics: list[Diagnostic], fixed: list[Diagnostic],
            errors: list[str]) -> int:
    unsafe = args.unsafe_fixes
    had_errors = bool(errors)
    if not args.fix_only:
        if args.statistics:
            _print_statistics(diagnostics, unsafe, args.output_format)
        else:
            write_diagnostics(diagnostics, args.output_format, sys.stdout, unsafe_fixes=unsafe,
                              internal_errors=errors)
        sys.stdout.flush()
    if args.show_fixes and fixed:
        _print_fixed(fixed)
    if not args.quiet:
        _summary(args, diagnostics, fixed, len(errors))
    if had_errors:
        return EXIT_ERROR
    if args.exit_non_zero_on_fix and fixed:
        return EXIT_FINDINGS
    if args.exit_zero or args.fix_only:
        return EXIT_CLEAN
    return EXIT_FINDINGS if diagnostics else EXIT_CLEAN


def _summary(args: argparse.Namespace, diagnostics: list[Diagnostic], fixed: list[Diagnostic],
             errors: int = 0) -> None:
    err = sys.stderr
    if errors:  # never "All checks passed!" when a file could not be checked or fixed
        print(f"{errors} internal error{'s' if errors != 1 else ''}: the files named above were "
              "not fully checked or fixed.", file=err)
    if args.fix_only:
        print(f"Fixed {len(fixed)} error{'s' if len(fixed) != 1 else ''}.", file=err)
        return
    if not diagnostics and not fixed:
        if not errors:
            print("All checks passed!", file=err)
        return
    if fixed:
        total = len(diagnostics) + len(fixed)
        print(f"Found {total} error{'s' if total != 1 else ''} ({len(fixed)} fixed, "
              f"{len(diagnostics)} remaining).", file=err)
    else:
        print(f"Found {len(diagnostics)} error{'s' if len(diagnostics) != 1 else ''}.", file=err)
    safe = sum(1 for d in diagnostics if fix_is_applicable(d, False))
    hidden = sum(1 for d in diagnostics if d.fix is not None and not fix_is_applicable(d, False))
    if safe or (hidden and args.unsafe_fixes):
        n = safe + (hidden if args.unsafe_fixes else 0)
        flag = "--fix --unsafe-fixes" if args.unsafe_fixes else "--fix"
        print(f"[*] {n} fixable with the `{flag}` option.", file=err)
    if hidden and not args.unsafe_fixes:
        print(f"No fixes available ({hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled "
              "with the `--unsafe-fixes` option)." if not safe else
              f"({hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the "
              "`--unsafe-fixes` option.)", file=err)


def _summary_diff(args: argparse.Namespace, fixed: list[Diagnostic]) -> None:
    if not args.quiet:
        n = len(fixed)
        print(f"Would fix {n} error{'s' if n != 1 else ''}." if n else "No errors would be fixed.",
              file=sys.stderr)


def _print_statistics(diagnostics: list[Diagnostic], unsafe: bool, fmt: str = "concise") -> None:
    counts = Counter(d.code for d in diagnostics)
    names = {d.code: d.name for d in diagnostics}
    fixable = {d.code for d in diagnostics if fix_is_applicable(d, unsafe)}
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if fmt in ("json", "json-lines"):  # ruff's `--statistics --output-format json` shape
        rows = [{"code": code, "name": names[code], "count": count,
                 "fixable": code in fixable} for code, count in ordered]
        if fmt == "json":
            json.dump(rows, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            for row in rows:
                sys.stdout.write(json.dumps(row) + "\n")
        return
    for code, count in ordered:
        marker = "[*]" if code in fixable else "[ ]"
        print(f"{count:>5}\t{code}\t{marker} {names[code]}")


def _print_fixed(fixed: list[Diagnostic]) -> None:
    by_file: dict[str, Counter] = {}
    for d in fixed:
        by_file.setdefault(d.path, Counter())[(d.code, d.name)] += 1
    print(f"\nFixed {len(fixed)} error{'s' if len(fixed) != 1 else ''}:", file=sys.stderr)
    for path in sorted(by_file):
        print(f"- {path}:", file=sys.stderr)
        for (code, name), n in sorted(by_file[path].items()):
            print(f"    {n} × {code} ({name})", file=sys.stderr)


def _print_diffs(files: list[FileResult]) -> bool:
    changed = False
    for f in sorted(files, key=lambda f: f.path):
        if f.new_text is None or f.original is None:
            continue
        changed = True
        diff = difflib.unified_diff(
            io.StringIO(f.original.text).readlines(), io.StringIO(f.new_text).readlines(),
            fromfile=f.path, tofile=f.path)
        sys.stdout.writelines(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                              for line in diff)
    return changed


def _show_settings(config: Config, root: Path | None) -> None:
    print(f"# settings from: {config.source}")
    print(f"# project root: {root if root else '(none)'}")
    print("[tool.llm-affinity-lint]")
    for key, value in config.as_toml_dict().items():
        print(f"{key} = {toml_value(value)}")
