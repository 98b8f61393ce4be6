"""The flake8 front-end: every LLA finding as `path:row:col: LLA001 message`.

flake8 owns what it is good at: `--select/--extend-select/--ignore/--per-file-ignores`, `# noqa`
(including `--disable-noqa`), `--exclude`, parallel jobs (`-j`) and the output format. This plugin
only reports what the engine finds, so it yields every enabled code and lets flake8 filter.

What flake8 does not do, the plugin does:
- settings: `[tool.llm-affinity-lint]` from the closest `pyproject.toml` (looked up once per
  folder), then the `--lla-*` options below from the command line or `setup.cfg`/`.flake8`/
  `tox.ini`. The table's own `select`/`ignore`/`per-file-ignores` apply too, so a rule switched
  off for the project stays off whichever front-end runs.
- fixes: flake8 never rewrites files, so a fixable finding ends with a hint to run the CLI.

Cost: flake8 only calls a plugin of the "tree" kind for files that CPython could parse (flake8
builds that `ast` for every file anyway, so asking for `tree` costs nothing; a plugin must ask
for `tree`, `logical_line` or `physical_line`, and the other two run once per line). The
engine's prefilter runs on the file's text (trigger tokens), then on that tree for the rules
with an `ast` stage (LLA005); only a file that passes both is parsed with libcst.

LLA000 and E999: a file CPython cannot parse gets flake8's E999 and never reaches the plugin, so
the plugin never duplicates it. LLA000 from the plugin means the LLA rules could not run on a
file flake8 could read: libcst rejected it, the settings are invalid, or the engine failed.
"""

from __future__ import annotations

import argparse
import atexit
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.api import check_source, describe_exception
from lint_rules.core.codes import CODES, SYNTAX_ERROR
from lint_rules.core.config import (
    Config,
    ConfigError,
    apply_settings,
    find_config_file,
    load_config,
)
from lint_rules.core.diagnostics import Applicability, Diagnostic
from lint_rules.core.noqa import file_exemption
from lint_rules.core.run_store import (
    RunStore,
    new_run_folder,
    remove_run_folder,
    use_run_store,
)
from lint_rules.core.version import __version__

# The settings that differ between code bases (domain.md, "Names differ between code bases"):
# each gets `--lla-<key>` (replaces the list) and `--lla-extend-<key>` (adds to it).
OVERRIDABLE_KEYS = (
    "scoped-header-keys",
    "scoped-attributes",
    "conversation-id-expressions",
    "llm-classes",
    "pin-helpers",
    "llm-install-methods",
    "credential-names",
)

FIX_HINT = "(fixable: llm-affinity-lint check --fix)"
UNSAFE_FIX_HINT = "(fixable: llm-affinity-lint check --fix --unsafe-fixes)"


def _option_names(key: str) -> tuple[str, str]:
    return f"lla_{key.replace('-', '_')}", f"lla_extend_{key.replace('-', '_')}"


class Flake8Plugin:
    name = "llm-affinity-lint"
    version = __version__

    # Set once by parse_options (in the parent; forked workers inherit them, spawned workers
    # re-run parse_options). Caches are per process.
    _overrides: ClassVar[dict[str, list[str]]] = {}
    _explicit_config: ClassVar[Path | None] = None
    _configs: ClassVar[dict[str, tuple[Config, Path | None] | ConfigError]] = {}
    _by_file: ClassVar[dict[Path | None, tuple[Config, Path | None]]] = {}
    _indexes: ClassVar[dict[Path | None, ProjectIndex]] = {}
    # The LLA codes flake8's --select/--ignore (and their extend- twins) let through, or None
    # when unknown: rules whose findings flake8 would drop are not run at all.
    _flake8_selected: ClassVar[frozenset[str] | None] = None
    _disable_noqa: ClassVar[bool] = False
    _run_folder: ClassVar[str | None] = None  # the facts flake8's workers share

    def __init__(self, tree: Any, lines: list[str], filename: str) -> None:
        self.tree = tree  # flake8's own `ast` of the file: the prefilter's second stage reads it
        self.lines = lines
        self.filename = filename

    # ------------------------------------------------------------------ options
    @classmethod
    def add_options(cls, manager: Any) -> None:
        manager.add_option(
            "--lla-config", parse_from_config=True, normalize_paths=True, default=None,
            metavar="PATH",
            help="pyproject.toml to read [tool.llm-affinity-lint] from "
                 "(default: the closest one above each file)",
        )
        for key in OVERRIDABLE_KEYS:
            manager.add_option(
                f"--lla-{key}", parse_from_config=True, comma_separated_list=True,
                default=None, metavar="NAMES",
                help=f"llm-affinity-lint: replace `{key}` (comma-separated)",
            )
            manager.add_option(
                f"--lla-extend-{key}", parse_from_config=True, comma_separated_list=True,
                default=None, metavar="NAMES",
                help=f"llm-affinity-lint: add to `{key}` (comma-separated)",
            )

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        overrides: dict[str, list[str]] = {}
        for key in OVERRIDABLE_KEYS:
            replace_name, extend_name = _option_names(key)
            for name, table_key in ((replace_name, key), (extend_name, f"extend-{key}")):
                value = getattr(options, name, None)
                if value:
                    overrides[table_key] = [v for v in value if v]
        config_path = getattr(options, "lla_config", None)
        cls._flake8_selected = _selected_by_flake8(options)
        cls._disable_noqa = bool(getattr(options, "disable_noqa", False))
        cls._overrides = overrides
        cls._explicit_config = Path(config_path) if config_path else None
        cls._configs = {}
        cls._by_file = {}
        cls._indexes = {}
        cls._share_facts(options)

    @classmethod
    def _share_facts(cls, options: argparse.Namespace) -> None:
        """flake8's worker processes share the facts they read off module texts, as the CLI's
        do (`core/run_store.py`): the folder is made here, in the process that forks them,
        and removed when that process exits (flake8 tells a plugin nothing of the run's end).
        One flake8 process (`-j 1`), or options without flake8's `jobs`, share nothing."""
        remove_run_folder(cls._run_folder)  # the previous run of this process
        cls._run_folder = None
        jobs = getattr(options, "jobs", None)
        if jobs is None or (not getattr(jobs, "is_auto", False) and getattr(jobs, "n_jobs", 1) <= 1):
            use_run_store(None)
            return
        cls._run_folder = new_run_folder()
        if cls._run_folder is not None:
            atexit.register(_remove_own_folder, cls._run_folder, os.getpid())
        workers = getattr(jobs, "n_jobs", -1)
        if workers < 1:  # `auto`: one worker per core
            workers = os.cpu_count() or 1
        use_run_store(None if cls._run_folder is None else RunStore(cls._run_folder, None, workers))

    # ------------------------------------------------------------------ settings
    @classmethod
    def _settings_for(cls, path: Path) -> tuple[Config, Path | None]:
        """Settings for a file: cached per folder; a bad table raises ConfigError every time."""
        folder = str(path.parent)
        cached = cls._configs.get(folder)
        if cached is None:
            try:
                cached = cls._load(path.parent)
            except ConfigError as exc:
                cached = exc
            cls._configs[folder] = cached
        if isinstance(cached, ConfigError):
            raise cached
        return cached

    @classmethod
    def _load(cls, folder: Path) -> tuple[Config, Path | None]:
        if cls._explicit_config is not None:
            found: Path | None = cls._explicit_config
            if not found.is_file():
                raise ConfigError(f"{found}: no such config file (--lla-config)")
        else:
            found = find_config_file(folder if folder.is_dir() else Path.cwd())
        # Folders under one pyproject.toml share one Config object (and so one project index).
        cached = cls._by_file.get(found)
        if cached is None:
            config = load_config(found)
            if cls._overrides:
                config = replace(apply_settings(config, cls._overrides, "flake8 --lla-* options"),
                                 source=f"{config.source} + flake8 --lla-* options")
            root = found.resolve().parent if found is not None else None
            cached = cls._by_file[found] = (config, root)
        return cached

    @classmethod
    def _index_for(cls, config: Config, root: Path | None) -> ProjectIndex:
        index = cls._indexes.get(root)
        if index is None or index.config is not config:
            index = ProjectIndex(config, [root] if root else [])
            cls._indexes[root] = index
        return index

    # ------------------------------------------------------------------ the check
    def run(self) -> Iterator[tuple[int, int, str, type]]:
        if self._flake8_selected is not None and not self._flake8_selected:
            return  # flake8 reports no LLA code in this run: nothing to do
        source = "".join(self.lines)
        if not source or (not self._disable_noqa and file_exemption(source) == frozenset()):
            return
        path = Path(self.filename)
        try:
            config, root = self._settings_for(path)
        except ConfigError as exc:
            yield 1, 0, f"{SYNTAX_ERROR[0]} settings error, LLA rules did not run: {exc}", type(self)
            return
        rel = _relative_to(path, root)
        selected = self._flake8_selected
        codes = tuple(code for code in CODES if config.rule_enabled(code, rel)
                      and (selected is None or code in selected))
        if not codes:
            return
        try:
            # flake8 applies its own `# noqa` too; ours also reads `#noqa:LLA001`, lower-case
            # codes and the file-level directive with codes, so the plugin and the CLI agree.
            diagnostics = check_source(source, self.filename, config,
                                       self._index_for(config, root), codes=codes,
                                       tree=self.tree, noqa=not self._disable_noqa)
        except Exception as exc:  # an engine bug must not abort the whole flake8 run
            yield 1, 0, (f"{SYNTAX_ERROR[0]} internal error, LLA rules did not run: "
                         f"{describe_exception(exc)}"), type(self)
            return
        for diagnostic in diagnostics:
            yield (diagnostic.start.row, diagnostic.start.column - 1,
                   format_message(diagnostic), type(self))


def _remove_own_folder(folder: str, owner: int) -> None:
    if os.getpid() == owner:  # a spawned worker that ran this module again keeps its hands off
        remove_run_folder(folder)


def _selected_by_flake8(options: argparse.Namespace) -> frozenset[str] | None:
    """The LLA codes flake8 would report (before per-file-ignores and noqa), from its own
    decision engine; None when that cannot be asked (then every rule runs, flake8 filters)."""
    try:
        # flake8 is not a dependency of the tool: only a flake8 run, which has it, gets here.
        from flake8.style_guide import Decision, DecisionEngine

        decide = DecisionEngine(options).decision_for
        return frozenset(code for code in CODES
                         if decide(code) is Decision.Selected)
    except Exception:  # noqa: BLE001 - an older or newer flake8 without this internal API
        return None


def _relative_to(path: Path, root: Path | None) -> str:
    """The path per-file-ignores are matched against: relative to the project root if under it."""
    if root is not None:
        try:
            return path.resolve().relative_to(root).as_posix()
        except (ValueError, OSError):
            pass
    posix = path.as_posix()
    return posix[2:] if posix.startswith("./") else posix


def format_message(diagnostic: Diagnostic) -> str:
    """`LLA001 message`, plus a hint to run the CLI when the finding has a fix."""
    text = f"{diagnostic.code} {diagnostic.message}"
    fix = diagnostic.fix
    if fix is None:
        return text
    hint = FIX_HINT if fix.applicability is Applicability.SAFE else UNSAFE_FIX_HINT
    return f"{text} {hint}"
