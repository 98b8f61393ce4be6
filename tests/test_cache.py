"""The result cache never changes findings, and never serves a stale result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

import lint_rules.engine as engine
import lint_rules.runner as runner
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.cache import CACHE_DIR_NAME, ResultCache, digest
from lint_rules.cache_index import CachingIndex
from lint_rules.core.config import Config, apply_settings
from lint_rules.core.diagnostics import Applicability, Edit, Fix
from lint_rules.rules.base import Rule
from lint_rules.runner import RunOptions, run

HERE = Path(__file__).parent
LEAK = 'import os\n\nclass C:\n    def f(self):\n        os.environ["K"] = self.api_key\n'


def findings(result) -> list[tuple]:
    return [(d.path, d.code, d.start, d.end, d.message, d.fix) for d in result.diagnostics]


@pytest.fixture
def counted(monkeypatch):
    """Counts the files actually checked (not served from the cache)."""
    calls: list[str] = []
    real = runner.check_file

    def check_file(path, display, *args, **kwargs):
        calls.append(display)
        return real(path, display, *args, **kwargs)

    monkeypatch.setattr(runner, "check_file", check_file)
    return calls


def lint(root: Path, config: Config | None = None, *, cache: bool = True, fix: bool = False,
         unsafe: bool = False):
    options = RunOptions(fix=fix, unsafe_fixes=unsafe, jobs=1,
                         cache_dir=root / CACHE_DIR_NAME if cache else None)
    return run([root / "src"], config or Config(), options, project_root=root)


def make_tree(root: Path) -> None:
    (root / "src").mkdir()
    (root / "src" / "leak.py").write_text(LEAK)
    (root / "src" / "clean.py").write_text("x = 1\n")
    (root / "src" / "broken.py").write_text("def f(:\n")


def test_warm_run_serves_every_unchanged_file_with_the_same_findings(tmp_path, counted) -> None:
    make_tree(tmp_path)
    cold = lint(tmp_path)
    assert sorted(counted) == [str(tmp_path / "src" / n) for n in ("broken.py", "clean.py", "leak.py")]
    assert {d.code for d in cold.diagnostics} == {"LLA000", "LLA005"}
    counted.clear()
    warm = lint(tmp_path)
    assert counted == []  # files just written are hashed, not re-checked
    assert findings(warm) == findings(cold) == findings(lint(tmp_path, cache=False))
    assert (tmp_path / CACHE_DIR_NAME / ".gitignore").read_text().strip().endswith("*")


_IMPORTS_AFTER = """
import sys
from lint_rules.cli import main
status = main(sys.argv[1:])
# The cache's own data classes (`analysis.summaries`, `analysis.pin_values`) are no checker.
light = {"lint_rules.analysis", "lint_rules.analysis.summaries", "lint_rules.analysis.pin_values"}
# Nor are the standard library's slow imports that only some runs need.
slow = {"libcst", "multiprocessing", "importlib.metadata", "urllib.request"}
heavy = sorted(m for m in sys.modules if m not in light and (m in slow or m.startswith(
    ("lint_rules.analysis", "lint_rules.engine", "lint_rules.rules", "lint_rules.syntax",
     "lint_rules.fixes", "lint_rules.cache_index"))))
print(status, " ".join(heavy))
"""


@pytest.mark.parametrize("output_format", ["concise", "full", "grouped", "github"])
def test_a_warm_run_imports_neither_libcst_nor_the_analysis(tmp_path, output_format) -> None:
    """A run whose every file is served from the cache (pre-commit on an unchanged tree, CI
    with a restored cache) loads no checker: libcst and the analysis are most of the start-up
    time (docs/performance.md), and a pool of workers, the installed distributions' metadata
    and `urllib` (which `xml.sax` imports) another 60 ms. A run that checks a file still loads
    the checker. (The JSON and SARIF formats describe every rule, so they load the rules.)"""
    make_tree(tmp_path)

    def imported(*args: str) -> tuple[str, list[str]]:
        out = subprocess.run([sys.executable, "-c", _IMPORTS_AFTER, "check", *args, "src"],
                             cwd=tmp_path, capture_output=True, text=True, check=False)
        status, *heavy = out.stdout.strip().splitlines()[-1].split(" ")
        return status, heavy

    cold_status, cold = imported("--output-format", output_format)
    assert "libcst" in cold
    warm_status, warm = imported("--output-format", output_format)
    assert (warm_status, warm) == (cold_status, [])
    assert cold_status == "1"  # the tree has findings, served warm too


def test_stat_fast_path_and_content_change_with_the_same_size_and_mtime(tmp_path, counted,
                                                                          monkeypatch) -> None:
    import lint_rules.cache

    # Files are trusted by stat once older than RACY_NS; 0 stands for "written long ago".
    monkeypatch.setattr(lint_rules.cache, "RACY_NS", 0)
    make_tree(tmp_path)
    leak = tmp_path / "src" / "leak.py"
    lint(tmp_path)
    counted.clear()
    hashed: list[str] = []
    real_unchanged = runner.unchanged
    monkeypatch.setattr(runner, "unchanged", lambda path, entry: hashed.append(path) or real_unchanged(path, entry))
    lint(tmp_path)
    assert counted == [] and hashed == []  # settled files: not even read
    # Same size, mtime put back: only ctime (which no tool can set) tells the change.
    before = leak.stat()
    leak.write_text(LEAK.replace("def f(self):", "def f(self) "))  # now a syntax error
    assert leak.stat().st_size == before.st_size
    os.utime(leak, ns=(before.st_atime_ns, before.st_mtime_ns))
    result = lint(tmp_path)
    assert counted == [str(leak)]
    assert sorted(Path(d.path).name for d in result.diagnostics if d.code == "LLA000") == [
        "broken.py", "leak.py"]


def test_edits_are_seen_and_reverting_serves_the_old_entry_again(tmp_path, counted) -> None:
    make_tree(tmp_path)
    leak = tmp_path / "src" / "leak.py"
    first = findings(lint(tmp_path))
    leak.write_text("x = 2\n")
    assert [d.code for d in lint(tmp_path).diagnostics] == ["LLA000"]
    leak.write_text(LEAK)
    assert findings(lint(tmp_path)) == first


def test_settings_are_part_of_the_key(tmp_path) -> None:
    make_tree(tmp_path)
    default = Config()
    ignoring = apply_settings(Config(), {"ignore": ["LLA005"]}, "test")
    only_syntax = apply_settings(Config(), {"select": ["LLA000"]}, "test")
    assert findings(lint(tmp_path, ignoring, cache=False)) != findings(lint(tmp_path, cache=False))
    for config in (default, ignoring, only_syntax, default, ignoring):
        assert findings(lint(tmp_path, config)) == findings(lint(tmp_path, config, cache=False))


def test_no_cache_writes_nothing_and_a_corrupt_cache_is_ignored(tmp_path) -> None:
    make_tree(tmp_path)
    expected = findings(lint(tmp_path, cache=False))
    assert not (tmp_path / CACHE_DIR_NAME).exists()
    assert findings(lint(tmp_path)) == expected
    for pickle_file in (tmp_path / CACHE_DIR_NAME).rglob("*.json"):
        pickle_file.write_bytes(b"not a cache")
    assert findings(lint(tmp_path)) == expected


# ---------------------------------------------------------------------------- cross-module
class InheritsPin(Rule):
    """Test-only rule (defined outside the rules package, so the registry never sees it):
    reports a class whose bases, found through the project index, define `pin`; the fix marks
    the file."""

    code = "LLA999"
    name = "test-inherits-pin"

    def check_class(self, cls) -> None:
        if "# pinned" in self.ctx.source:
            return
        for base in self.ctx.index.ancestors(cls.bases, Path(self.ctx.path)):
            if "pin" in base.methods:
                fix = Fix("mark", (self.ctx.insert_before(cls.node, "# pinned\n"),), Applicability.SAFE)
                self.report(cls.node, f"inherits pin from {base.qualname}", fix)


@pytest.fixture
def index_rule(monkeypatch):
    monkeypatch.setattr(engine, "all_rules", lambda: (InheritsPin,))
    engine._token_filter.cache_clear()
    yield
    engine._token_filter.cache_clear()


def make_package(root: Path) -> tuple[Path, Path]:
    pkg = root / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    base = pkg / "base.py"
    base.write_text("class Base:\n    def pin(self):\n        pass\n")
    sub = pkg / "sub.py"
    sub.write_text("from pkg.base import Base\n\nclass Sub(Base):\n    pass\n")
    return base, sub


def test_editing_a_base_class_module_invalidates_the_subclass(tmp_path, index_rule, counted) -> None:
    base, sub = make_package(tmp_path)
    assert [d.message for d in lint(tmp_path).diagnostics] == ["inherits pin from pkg.base.Base"]
    base.write_text("class Base:\n    def other(self):\n        pass\n")
    counted.clear()
    assert lint(tmp_path).diagnostics == []
    assert str(sub) in counted  # sub.py itself did not change: its dependency did
    # A module appearing where the index found none before also invalidates.
    base.unlink()
    (tmp_path / "src" / "pkg" / "base").mkdir()
    (tmp_path / "src" / "pkg" / "base" / "__init__.py").write_text(
        "class Base:\n    def pin(self):\n        pass\n")
    assert [d.message for d in lint(tmp_path).diagnostics] == ["inherits pin from pkg.base.Base"]


def test_index_summaries_are_cached_by_content(tmp_path, index_rule, monkeypatch) -> None:
    base, sub = make_package(tmp_path)
    lint(tmp_path)
    summarised: list[str] = []
    real = ProjectIndex._summary_of  # every summary computed from a module's bytes

    def spy(self, path, data):
        summarised.append(Path(path).name)
        return real(self, path, data)

    monkeypatch.setattr(ProjectIndex, "_summary_of", spy)
    sub.write_text(sub.read_text() + "\n\nclass Other(Base):\n    pass\n")
    result = lint(tmp_path)
    assert len(result.diagnostics) == 2
    assert summarised == []  # base.py's summary came from the cache, not from a parse


def make_caller_of_a_silent_callee(root: Path) -> tuple[Path, Path, Path]:
    """pins.py: `stamp` writes a header that is not scoped; app.py: a call of it with a borrowed
    LLM (silent until `stamp` writes a scoped one); other.py: unrelated."""
    pkg = root / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    pins = pkg / "pins.py"
    pins.write_text('KEY = "X-Title"\n\n\ndef stamp(target, sid):\n'
                    '    target.extra_headers[KEY] = sid\n')
    app = pkg / "app.py"
    app.write_text("from .pins import stamp\n\n\nclass Runner:\n"
                   "    def __init__(self, agent):\n        self.agent = agent\n\n"
                   "    def run(self):\n        stamp(self.agent.llm, self.name)\n")
    other = pkg / "other.py"
    other.write_text("def unrelated(x):\n    return x\n")
    return pins, app, other


def test_a_module_written_too_recently_is_read_again_for_the_writers(tmp_path, counted,
                                                                      monkeypatch) -> None:
    """On a clock too coarse to see a second write (same size, same inode, same timestamps), a
    module written within RACY_NS of the run has a stat that proves nothing: the table of the
    writers' facts must read it again, and a caller whose answer changed is checked again."""
    import lint_rules.cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_NS", 10**18)  # every file was "just written"
    monkeypatch.setattr(cache_module, "stat_signature",
                        lambda st: (st.st_size, 0, 0, st.st_ino))  # the coarse clock
    _pins, app, other = make_caller_of_a_silent_callee(tmp_path)
    writer = 'def stamp(target, sid):\n    target.extra_headers["x-litellm-session-id"] = 1\n'
    assert lint(tmp_path).diagnostics == []
    harmless = "def unrelated(x):\n    return x\n"
    other.write_text(harmless + "#" * (len(writer) - len(harmless) - 1) + "\n")
    assert lint(tmp_path).diagnostics == []  # builds the writers once, and the table
    size = other.stat().st_size
    other.write_text(writer)  # a writer named `stamp` now: app.py's answer is "yes"
    assert other.stat().st_size == size
    counted.clear()
    assert lint(tmp_path).diagnostics == []
    assert str(app) in counted


def test_writers_read_while_a_module_was_racy_record_a_racy_signature(tmp_path,
                                                                       monkeypatch) -> None:
    """Writers the process built from module texts read when one module was too recent to
    trust (the parent validating entries just after an edit) are recorded under the racy
    signature the parent's table has, even if that module has aged past RACY_NS by the time
    the check asks (back-to-back edits used to rebuild the writers on every edit); writers read
    once every module was settled keep the plain signature."""
    import time

    import lint_rules.cache as cache_module
    from lint_rules.analysis import project_index

    _pins, app, _other = make_caller_of_a_silent_callee(tmp_path)
    monkeypatch.setattr(project_index, "_WRITERS_MEMO", {})
    monkeypatch.setattr(project_index, "_SCAN_MEMO", {})
    config = Config()
    parent = ProjectIndex(config, [tmp_path / "src"])
    bases = parent.writers_bases(app)
    assert parent.writers_at(bases) is not None
    read_at = parent.writers_read_at(bases)
    time.sleep(0.01)
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns)
                 for p in (tmp_path / "src" / "pkg").glob("*.py"))
    # The newest module was racy when read, and is settled now.
    monkeypatch.setattr(cache_module, "RACY_NS", read_at - newest + 1)
    state = cache_module.writers_state(bases)
    assert state is not None and not state.racy
    racy_sig = digest(state.stats + b"racy")
    assert state.as_read_at(read_at) == racy_sig != state.sig
    assert state.as_read_at(read_at + 10) == state.sig

    def recorded() -> bytes | None:
        check = CachingIndex(config, [tmp_path / "src"])
        check.start_recording()
        writers = check.writers(app)
        assert writers is not None and not writers.may_write(["stamp"])
        [(path, signature)] = check.stop_recording()
        assert path.startswith(cache_module.WRITERS_DEP)
        return signature

    assert recorded() == racy_sig  # the same process's writers, read while racy
    monkeypatch.setattr(project_index, "_WRITERS_MEMO", {})
    monkeypatch.setattr(project_index, "_SCAN_MEMO", {})
    assert recorded() == state.sig  # read again now that every module is settled


def test_runs_read_the_writers_questions_only_when_a_module_s_facts_changed(tmp_path, counted,
                                                                            monkeypatch) -> None:
    """Entries recorded under the writers' current, trusted signature hold without decoding
    their questions (the signature digests the search folders and every module's stat): a
    warm run decodes none. The run that checked them recorded every module's writer facts, so
    an edit that changes none renews them without decoding either (an edit run used to decode
    every entry's, and the first edit after a cold run built the writers); an edit that makes a
    callee write a scoped value decodes them and checks its callers again."""
    import lint_rules.cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # files count as written long ago
    pins, app, other = make_caller_of_a_silent_callee(tmp_path)
    (app.parent / "app2.py").write_text(app.read_text())
    assert lint(tmp_path).diagnostics == []
    decoded: list[str] = []
    real = cache_module.WritersQuestions.from_dep_path
    monkeypatch.setattr(cache_module.WritersQuestions, "from_dep_path",
                        staticmethod(lambda path: decoded.append(path) or real(path)))
    counted.clear()
    assert lint(tmp_path).diagnostics == []
    assert counted == [] and decoded == []  # every file served, no question read
    other.write_text("def unrelated(x):\n    return [x]\n")
    assert lint(tmp_path).diagnostics == []
    assert counted == [str(other)] and decoded == []
    pins.write_text(pins.read_text().replace('"X-Title"', '"x-litellm-session-id"'))
    counted.clear()
    found = lint(tmp_path).diagnostics
    assert {(Path(d.path).name, d.code) for d in found} >= {("app.py", "LLA001"), ("app2.py", "LLA001")}
    assert str(app) in counted and decoded


def test_a_callee_that_starts_writing_onto_its_own_llm_checks_callers_without_one_again(
        tmp_path, counted, monkeypatch) -> None:
    """A caller that holds no LLM expression can hand a borrowed object only to a callee that
    writes onto an LLM it reaches itself and leaves it to its callers (`Writers.
    may_write_onto_llm`): the "no" it heard is recorded, and an edit that makes the callee one
    checks the caller again."""
    import lint_rules.cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # files count as written long ago
    pins, app, _other = make_caller_of_a_silent_callee(tmp_path)
    pins.write_text("class Pinner:\n    def _stamp(self, target, sid):\n"
                    "        target.extra_headers['x-litellm-session-id'] = sid\n")
    app.write_text("from .pins import Pinner\n\n\nclass Runner:\n"
                   "    def __init__(self, agent):\n        self.agent = agent\n\n"
                   "    def run(self, pinner: Pinner):\n"
                   "        pinner._stamp(self.agent, self.name)  # the agent's llm\n")
    assert lint(tmp_path).diagnostics == []
    counted.clear()
    assert lint(tmp_path).diagnostics == [] and counted == []
    pins.write_text(pins.read_text().replace("target", "agent").replace(
        "agent.extra_headers", "agent.llm.extra_headers"))
    counted.clear()
    lint(tmp_path)
    assert str(app) in counted


def test_a_checking_run_records_the_writers_table_only_for_the_modules_its_checks_read(
        tmp_path, monkeypatch) -> None:
    """The table a checking run records must describe the modules its checks' writers were
    read from: one is recorded at the signature the entries hold, none when the modules'
    signature is no longer the one the checks recorded (a module written meanwhile)."""
    import lint_rules.cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # files count as written long ago
    make_caller_of_a_silent_callee(tmp_path)
    lint(tmp_path)
    [cache_file] = (tmp_path / CACHE_DIR_NAME).rglob("*.json")
    data = cache_module.decode_cache(cache_file.read_bytes())
    recorded = {sig for e in data["entries"].values() for dep, sig in e.deps
                if dep.startswith(cache_module.WRITERS_DEP)}
    assert len(recorded) == 1
    assert [t.sig for t in data["writer_tables"].values()] == list(recorded)

    (raw, sig), = {(cache_module.WritersQuestions.bases_of_dep_path(dep), sig)
                   for e in data["entries"].values() for dep, sig in e.deps
                   if dep.startswith(cache_module.WRITERS_DEP)}

    def tables_recorded_for(signature: bytes) -> list[bytes]:
        cache = ResultCache(cache_file, None, Config())
        cache._checked_writers = {(raw, signature)}
        cache._record_checked_tables()
        return [t.sig for t in cache.writer_tables.values()]

    assert tables_recorded_for(sig) == [sig]
    assert tables_recorded_for(digest(b"modules as another run saw them")) == []


def test_summaries_are_decoded_only_when_asked_for_and_written_back_as_read(
        tmp_path, index_rule, monkeypatch) -> None:
    """A warm run that checks no file rebuilds no index summary (most of its decode time), an
    edit run only those its checks read; a cache saved without them keeps them for the next
    run that needs them."""
    import lint_rules.cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # files count as written long ago
    make_package(tmp_path)
    (tmp_path / "src" / "pkg" / "other.py").write_text("class Other:\n    pass\n")
    (tmp_path / "src" / "pkg" / "uses_other.py").write_text(
        "from pkg.other import Other\n\n\nclass Mine(Other):\n    pass\n")
    lint(tmp_path)
    decoded: list[str] = []
    real = cache_module._dec_summary
    monkeypatch.setattr(cache_module, "_dec_summary",
                        lambda raw: decoded.append(raw["path"]) or real(raw))
    assert len(lint(tmp_path).diagnostics) == 1  # warm: every file served
    assert decoded == []
    [path] = (tmp_path / CACHE_DIR_NAME).rglob("*.json")
    cache = ResultCache(path, cache_module.decode_cache(path.read_bytes()), Config())
    assert {Path(key[0]).name for key in cache.summaries} == {"base.py", "other.py"}
    cache.dirty = True
    cache.save()
    assert decoded == []
    sub = tmp_path / "src" / "pkg" / "sub.py"
    sub.write_text(sub.read_text() + "# edited\n")
    assert len(lint(tmp_path).diagnostics) == 1
    assert [Path(p).name for p in decoded] == ["base.py"]  # the edited file's base only
    again = ResultCache(path, cache_module.decode_cache(path.read_bytes()), Config())
    assert {Path(key[0]).name for key in again.summaries} == {"base.py", "other.py"}
    assert again.summaries.get(next(k for k in again.summaries
                                    if k[0].endswith("other.py"))).classes["Other"].name == "Other"


def test_recorded_dependencies_cover_found_and_missing_modules(tmp_path) -> None:
    base, sub = make_package(tmp_path)
    index = CachingIndex(Config(), [tmp_path / "src"])
    index.start_recording()
    found = index.ancestors(("pkg.base.Base", "pkg.nowhere.Thing"), sub)
    deps = dict(index.stop_recording())
    assert [c.name for c in found] == ["Base"]
    assert deps[str(base)] == digest(base.read_bytes())
    missing = [p for p, d in deps.items() if "nowhere" in p]
    assert missing and all(deps[p] is None for p in missing)
    cache = ResultCache(tmp_path / "c.json")
    assert cache.deps_valid(tuple(deps.items()))
    fresh = ResultCache(tmp_path / "c.json")
    Path(missing[0]).write_text("class Thing: pass\n")
    assert not fresh.deps_valid(tuple(deps.items()))


def test_a_module_asked_again_keeps_each_probed_path_once(tmp_path) -> None:
    """The paths looked at for a module are a set: a worker asks about the same modules for
    every file it checks, and the record must not grow with the asking."""
    base, sub = make_package(tmp_path)
    index = CachingIndex(Config(), [tmp_path / "src"])
    index.start_recording()
    for _ in range(3):  # LLA005's gate, asked before the module is summarised
        assert not index.may_store_globally("pkg.base", "nothing", sub)
        assert not index.may_store_globally("pkg.nowhere", "nothing", sub)
    index.ancestors(("pkg.base.Base",), sub)
    deps = dict(index.stop_recording())
    for module in ("pkg.base", "pkg.nowhere"):
        probed = list(index._probed[module])
        assert probed and len(probed) == len(set(probed))
    assert deps[str(base)] == digest(base.read_bytes())


def test_fix_runs_check_cached_files_that_have_something_to_fix(tmp_path, index_rule) -> None:
    base, sub = make_package(tmp_path)
    assert len(lint(tmp_path).diagnostics) == 1  # cached, with a safe fix
    result = lint(tmp_path, fix=True)
    assert len(result.fixed) == 1
    assert sub.read_text().startswith("from pkg.base import Base\n\n# pinned\nclass Sub")


# ---------------------------------------------------------------------------- a corpus
def test_cache_never_changes_findings_on_a_corpus(tmp_path) -> None:
    import sysconfig

    src = tmp_path / "src"
    shutil.copytree(HERE / "fixtures" / "sample_sdk", src / "sample_sdk")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("os.py", "subprocess.py", "shutil.py", "getpass.py", "ftplib.py", "tabnanny.py"):
        if (stdlib / name).exists():
            shutil.copyfile(stdlib / name, src / name)
    expected = findings(lint(tmp_path, cache=False))
    assert expected
    assert findings(lint(tmp_path)) == expected  # cold, writing the cache
    assert findings(lint(tmp_path)) == expected  # warm
    options = RunOptions(jobs=2, cache_dir=tmp_path / "other-cache")
    runner.PARALLEL_THRESHOLD, saved = 1, runner.PARALLEL_THRESHOLD
    try:  # through worker processes too
        assert findings(run([src], Config(), options, project_root=tmp_path)) == expected
        assert findings(run([src], Config(), options, project_root=tmp_path)) == expected
    finally:
        runner.PARALLEL_THRESHOLD = saved


# ---------------------------------------------------------------------------- command line
def test_cli_cache_dir_no_cache_and_clean(tmp_path) -> None:
    make_tree(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lint_rules", *args], cwd=tmp_path,
                              capture_output=True, text=True)

    assert cli("check", "src", "--no-cache").returncode == 1
    assert not (tmp_path / CACHE_DIR_NAME).exists()
    first = cli("check", "src")
    assert (tmp_path / CACHE_DIR_NAME / ".gitignore").exists()
    assert cli("check", "src").stdout == first.stdout
    assert cli("check", "src", "--cache-dir", "elsewhere").stdout == first.stdout
    assert (tmp_path / "elsewhere" / ".gitignore").exists()
    cleaned = cli("clean")
    assert cleaned.returncode == 0 and not (tmp_path / CACHE_DIR_NAME).exists()
    assert cli("clean", "--cache-dir", "elsewhere").returncode == 0
    assert not (tmp_path / "elsewhere").exists()
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "data.txt").write_text("keep me")
    assert cli("clean", "--cache-dir", "precious").returncode == 2
    assert (tmp_path / "precious" / "data.txt").exists()


def test_editing_an_imported_setter_invalidates_its_callers(tmp_path, counted) -> None:
    """Issue 16: LLA005's stage asks the index whether an imported function stores a parameter
    globally (`may_store_globally`, on `ast`); the caller's entry depends on that module, so a
    setter that starts storing re-checks the caller, which then reports the hop."""
    pkg = tmp_path / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    setters = pkg / "setters.py"
    setters.write_text("def use_key(value):\n    seen = value\n    return seen\n")
    app = pkg / "app.py"
    app.write_text("from pkg.setters import use_key\n\n\nclass Agent:\n"
                   "    def start(self):\n        use_key(self.tenant_api_key)\n")
    assert lint(tmp_path).diagnostics == []
    setters.write_text("import os\n\n\ndef use_key(value):\n"
                       "    os.environ['OPENAI_API_KEY'] = value\n")
    counted.clear()
    found = [(Path(d.path).name, d.code) for d in lint(tmp_path).diagnostics]
    assert str(app) in counted  # app.py did not change: the module its stage read did
    assert found == [("app.py", "LLA005")]
    assert found == [(Path(d.path).name, d.code) for d in lint(tmp_path, cache=False).diagnostics]


def test_an_edit_run_reads_the_facts_of_the_edited_module_only(tmp_path, counted,
                                                               monkeypatch) -> None:
    """The `ast` stages' facts of every module (the writers' scans and parsed writers, LLA005's
    storing facts) are kept in the result cache by text: a new process that checks one edited
    file computes them for that file alone, and a row that does not fit is computed again."""
    import lint_rules.cache as cache_module
    from lint_rules.analysis import project_index, rule_stages, text_facts

    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # files count as written long ago
    pins, app, _other = make_caller_of_a_silent_callee(tmp_path)
    (pins.parent / "setters.py").write_text(
        "import os\n\n\ndef use_key(value):\n    os.environ['OPENAI_API_KEY'] = value\n")
    # A module that may hold a scoped value and defines `stamp`: the writers parse it to
    # learn that this `stamp` writes nothing.
    (pins.parent / "scoped.py").write_text(
        'KEY = "x-litellm-session-id"\n\n\ndef stamp(self):\n    return KEY\n')
    app.write_text(app.read_text().replace("from .pins import stamp\n", "from .pins import stamp\n"
                                           "from pkg.setters import use_key\n")
                   + "        use_key(self.tenant_api_key)\n")
    computed: list[tuple[str, str]] = []
    real_scan, real_parse = project_index.scan_module, rule_stages._parse_writers
    real_storing = ProjectIndex._storing_facts_of
    monkeypatch.setattr(project_index, "scan_module", lambda path, text, config, digest: (
        computed.append(("scan", Path(path).name)) or real_scan(path, text, config, digest)))
    monkeypatch.setattr(rule_stages, "_parse_writers", lambda text, config: computed.append(
        ("writers", "scoped.py" if "def stamp(self)" in text else "?")) or real_parse(text, config))
    monkeypatch.setattr(ProjectIndex, "_storing_facts_of", staticmethod(
        lambda path, data: computed.append(("storing", Path(path).name)) or real_storing(path, data)))

    def new_process() -> None:
        computed.clear()
        monkeypatch.setattr(project_index, "_WRITERS_MEMO", {})
        monkeypatch.setattr(project_index, "_SCAN_MEMO", {})
        text_facts.MEMO.clear()

    new_process()
    expected = [(Path(d.path).name, d.code) for d in lint(tmp_path).diagnostics]
    assert expected == [("app.py", "LLA005")]
    assert {kind for kind, _ in computed} == {"scan", "writers", "storing"}
    new_process()
    app.write_text(app.read_text() + "\n# edited\n")
    counted.clear()
    assert [(Path(d.path).name, d.code) for d in lint(tmp_path).diagnostics] == expected
    assert str(app) in counted
    assert computed == [("scan", "app.py")]  # nothing else is read again
    # A row whose data no longer fits its type is computed again, never trusted.
    [path] = (tmp_path / CACHE_DIR_NAME).rglob("*.json")
    data = json.loads(path.read_text())
    for row in data["text_facts"]["storing"].values():
        row[2] = {"functions": "not a list"}
    path.write_text(json.dumps(data))
    new_process()
    app.write_text(app.read_text() + "# edited again\n")
    assert [(Path(d.path).name, d.code) for d in lint(tmp_path).diagnostics] == expected
    assert sorted(computed) == [("scan", "app.py"), ("storing", "setters.py")]


def test_a_callee_that_starts_writing_rechecks_the_caller_the_writers_gate_skipped(
        tmp_path, counted, monkeypatch) -> None:
    """Issue 16: with a cache, the ast stage still rejects a caller whose callees the project's
    writers clear (no libcst parse); its entry depends on those "no" answers. An edit elsewhere
    that leaves them "no" keeps the entry; one that makes them "yes" re-checks the caller."""
    pins, app, other = make_caller_of_a_silent_callee(tmp_path)
    parsed: list[str] = []
    real_parse = engine.libcst_parse
    monkeypatch.setattr(engine, "libcst_parse", lambda source: parsed.append(source) or
                        real_parse(source))
    built: list[object] = []
    real_writers_at = ProjectIndex.writers_at
    monkeypatch.setattr(ProjectIndex, "writers_at", lambda self, bases: built.append(bases) or
                        real_writers_at(self, bases))

    import lint_rules.cache

    # Files are trusted by stat once older than RACY_NS; 0 stands for "written long ago".
    monkeypatch.setattr(lint_rules.cache, "RACY_NS", 0)

    def same_as_uncached() -> list[tuple[str, str]]:
        found = [(Path(d.path).name, d.code) for d in lint(tmp_path).diagnostics]
        assert found == [(Path(d.path).name, d.code)
                         for d in lint(tmp_path, cache=False).diagnostics]
        return found

    assert lint(tmp_path).diagnostics == []
    assert not any("class Runner" in source for source in parsed)  # the stage rejected app.py
    counted.clear()
    built.clear()
    assert lint(tmp_path).diagnostics == []
    assert counted == [] and built == []  # nothing changed: the signature holds, no writers built
    other.write_text("def unrelated(x, y):\n    return x, y\n")
    assert same_as_uncached() == []
    counted.clear()
    assert lint(tmp_path).diagnostics == []
    assert str(app) not in counted  # the writers still answer "no": the entry stands
    built.clear()
    lint(tmp_path)
    assert built == []  # ... under the new signature, which the next run trusts at once
    # Another edit that leaves every module's facts the same: the table of the modules' facts
    # stored by the last rebuild answers, and the parent builds no writers.
    other.write_text("def unrelated(x, y, z):\n    return x, y, z\n")
    counted.clear()
    built.clear()
    assert lint(tmp_path).diagnostics == []
    assert str(app) not in counted and str(other) in counted and built == []
    # A writer of that name anywhere makes the answer "yes" (writers go by name): re-checked,
    # and the libcst check finds the call still goes to the silent `pins.stamp`.
    other.write_text('def stamp(target, sid):\n    target.extra_headers["x-litellm-session-id"] = 1\n')
    counted.clear()
    assert lint(tmp_path).diagnostics == []
    assert str(app) in counted
    assert same_as_uncached() == []
    other.write_text("def unrelated(x):\n    return x\n")
    pins.write_text(pins.read_text().replace('"X-Title"', '"x-litellm-session-id"'))
    assert same_as_uncached() == [("app.py", "LLA001")]


def test_text_facts_are_kept_for_a_cache_only_and_rebuilt_from_plain_data() -> None:
    """`text_facts.FactMemo`: facts computed while no result cache asks are not kept to be
    drained; seeded plain data is rebuilt when asked for, and one that does not fit is
    computed again."""
    from lint_rules.analysis.global_setters_ast import StoringFacts
    from lint_rules.analysis.text_facts import FactMemo

    memo = FactMemo()
    facts = StoringFacts(frozenset({"set_key"}), {"os": "os"})
    computed: list[str] = []

    def compute(name: str):
        return lambda: computed.append(name) or facts

    key = ("storing", "/p/m.py", b"d1", "m\0False")
    assert memo.get("fp", key, StoringFacts, compute("first")) == facts
    assert memo.get("fp", key, StoringFacts, compute("again")) == facts
    assert computed == ["first"] and memo.drain("fp") == {}
    memo.keep_fresh = True
    other = ("storing", "/p/n.py", b"d2", "n\0False")
    memo.get("fp", other, StoringFacts, compute("n"))
    rows = memo.drain("fp")
    assert rows == {"storing": {"/p/n.py": (b"d2", "n\0False",
                                             {"functions": ["set_key"], "reexports": {"os": "os"}})}}
    fresh = FactMemo()
    fresh.seed("fp", rows)
    assert fresh.get("fp", other, StoringFacts, compute("not needed")) == facts
    assert computed == ["first", "n"]
    fresh.seed("fp", {"storing": {"/p/m.py": (b"d1", "m\0False", {"functions": 3})}})
    assert fresh.get("fp", key, StoringFacts, compute("bad row")) == facts
    assert computed[-1] == "bad row"


def _every_leaf_replaced(plain: object, path: tuple = ()):
    """(path, a value of the wrong type for it) for every value below `plain`, leaves and
    containers alike; `_replaced` puts it in place."""
    if isinstance(plain, dict):
        for key, value in plain.items():
            yield from _every_leaf_replaced(value, (*path, key))
    elif isinstance(plain, list):
        for i, value in enumerate(plain):
            yield from _every_leaf_replaced(value, (*path, i))
    if path:
        yield path, {"wrong": 1} if not isinstance(plain, dict) else ["wrong"]


def _replaced(plain: object, path: tuple, value: object) -> object:
    if not path:
        return value
    copy = dict(plain) if isinstance(plain, dict) else list(plain)  # type: ignore[call-overload]
    copy[path[0]] = _replaced(copy[path[0]], path[1:], value)  # type: ignore[index]
    return copy


def test_summaries_and_text_facts_rebuild_exactly_and_refuse_every_misfit() -> None:
    """The cache's codec (`summaries.to_data`/`from_data`, made once per type): a summary with
    every kind of field comes back equal, with the same collection types; a value of the wrong
    type anywhere, a missing field or a kind outside its `Literal` is refused (ValueError,
    which the cache takes for a miss), and a float field takes an int as JSON gives it."""
    from dataclasses import dataclass

    from lint_rules.analysis.pin_values import Pin
    from lint_rules.analysis.summaries import (
        ClassSummary,
        FunctionSummary,
        GlobalWrite,
        MethodSummary,
        ModuleSummary,
        ParamWrite,
        from_data,
        to_data,
    )
    from lint_rules.analysis.text_facts import ScanFacts

    pins = frozenset({Pin.header("x-litellm-session-id"), Pin.attr("prompt_cache_key")})
    effects = FunctionSummary(
        "_pin", "pkg.mod.Agent._pin", "/p/mod.py", 12, ("self", "llm"), True,
        (ParamWrite("llm", pins, "/p/mod.py", 14, "llm.extra_headers[...]", True, "_a -> _b",
                    True),),
        frozenset({"llm"}), False, True,
        (GlobalWrite("key", "`os.environ`", None, "/p/mod.py", 20, "os.environ[k] = key"),
         GlobalWrite("key", "`litellm.api_key`", "litellm.api_key", "/p/mod.py", 21, "x")))
    method = MethodSummary("_pin", 12, ("self", "llm"), frozenset({"reset"}), pins, True, False,
                           effects)
    module = ModuleSummary("pkg.mod", "/p/mod.py", {"Agent": ClassSummary(
        "Agent", "pkg.mod.Agent", "/p/mod.py", 3, ("pkg.base.Base",), {"_pin": method})},
        {"os": "os"}, {"helper": effects})
    plain = json.loads(json.dumps(to_data(module)))
    rebuilt = from_data(ModuleSummary, plain)
    assert rebuilt == module
    inner = rebuilt.classes["Agent"].methods["_pin"].effects
    assert isinstance(inner.writes, tuple) and isinstance(inner.returns_params, frozenset)
    assert isinstance(inner.writes[0].pins, frozenset) and isinstance(inner.params, tuple)

    refused = 0
    for path, wrong in _every_leaf_replaced(plain):
        with pytest.raises(ValueError):
            from_data(ModuleSummary, _replaced(plain, path, wrong))
        refused += 1
    assert refused > 60
    missing = json.loads(json.dumps(plain))
    del missing["classes"]["Agent"]["methods"]["_pin"]["line"]
    with pytest.raises(ValueError):
        from_data(ModuleSummary, missing)
    with pytest.raises(ValueError):  # a pin kind outside the Literal
        from_data(Pin, {"kind": "cookie", "name": "x"})
    with pytest.raises(ValueError):  # ScanFacts checks its aliases are pairs
        from_data(ScanFacts, {"bases": {}, "aliases": [["a"]], "classes": [], "pins": False,
                              "scoped": False, "defined": []})
    with pytest.raises(ValueError):  # a bool is not an int (JSON has both)
        from_data(ParamWrite, {**to_data(effects.writes[0]), "line": True})

    @dataclass(frozen=True)
    class Ratio:
        value: float

    assert from_data(Ratio, {"value": 2}) == Ratio(2)
    with pytest.raises(ValueError):
        from_data(Ratio, {"value": "2"})


def test_a_writers_state_lists_the_folders_once_and_sees_writes_made_after_it(
        tmp_path, monkeypatch) -> None:
    """`writers_state` keeps each module with its stat: comparing an edit with the writers'
    table and recording a table read those instead of listing the folders again (an edit run
    listed them three times per set of search folders), and the "written meanwhile" check
    stats the same modules again: a module edited or removed after the state fails it."""
    import lint_rules.cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # files count as written long ago
    _pins, _app, other = make_caller_of_a_silent_callee(tmp_path)
    lint(tmp_path)
    [cache_file] = (tmp_path / CACHE_DIR_NAME).rglob("*.json")
    cache = ResultCache(cache_file, cache_module.decode_cache(cache_file.read_bytes()), Config())
    [key] = cache.writer_tables  # the run recorded the table of the folders its check asked
    bases = tuple(Path(b) for b in json.loads(key))
    listed: list[object] = []
    real = cache_module.python_modules
    monkeypatch.setattr(cache_module, "python_modules",
                        lambda *a: listed.append(a) or real(*a))

    state = cache_module.writers_state(bases)
    assert state is not None and len(listed) == 1
    assert {Path(name) for name, _ in state.modules} == set(real(bases, 10_000))
    assert all(sig == cache_module.stat_signature(os.stat(name)) for name, sig in state.modules)
    assert cache_module._unwritten_since(state)

    cache._open_writers_index()
    assert cache._facts_unchanged_since(bases, state) is not None  # every module's facts hold
    assert len(listed) == 1  # no second listing

    other.write_text(other.read_text() + "\n# an edit after the state was taken\n")
    assert not cache_module._unwritten_since(state)
    other.unlink()
    assert not cache_module._unwritten_since(state)


def test_the_cache_file_lists_each_dependency_once_and_a_bad_row_misses_its_entries() -> None:
    """Entries name their dependencies by number in one table (most share the same
    `__init__.py` files and modules): the file holds each (path, digest) once, decodes to the
    same entries, and a table row or a number that does not validate is a miss for the
    entries that use it only."""
    import lint_rules.cache as cache_module
    from lint_rules.cache import EXISTS, Entry, decode_cache, encode_cache

    init = ("/p/pkg/__init__.py", EXISTS)
    base = ("/p/pkg/base.py", digest(b"class Base: ..."))
    gone = ("/p/pkg/gone.py", None)
    entries = {
        "/p/pkg/a.py\0pkg/a.py": Entry((1, 2, 3, 4), True, digest(b"a"), (), (init, base)),
        "/p/pkg/b.py\0pkg/b.py": Entry((5, 6, 7, 8), False, digest(b"b"), (), (init, gone)),
        "/p/pkg/c.py\0pkg/c.py": Entry((9, 9, 9, 9), True, digest(b"c"), (), (init,)),
    }
    raw = encode_cache(entries, {}, {})
    data = json.loads(raw)
    assert data["format"] == cache_module.FORMAT
    assert sorted(map(tuple, data["deps"])) == sorted(
        [(init[0], "exists"), (base[0], base[1].hex()), (gone[0], None)])
    assert decode_cache(raw)["entries"] == entries

    broken = json.loads(raw)
    broken["deps"][[r[0] for r in broken["deps"]].index(base[0])] = [base[0], "not hex"]
    broken["entries"]["/p/pkg/c.py\0pkg/c.py"]["deps"] = [len(broken["deps"])]
    kept = decode_cache(json.dumps(broken).encode())["entries"]
    assert kept == {"/p/pkg/b.py\0pkg/b.py": entries["/p/pkg/b.py\0pkg/b.py"]}


def test_stored_entries_share_one_tuple_per_dependency(tmp_path) -> None:
    """Each worker's entry arrives with its own copy of every dependency (through a pipe):
    the parent keeps one tuple per (path, digest), and the entries and the saved file are
    the same as without sharing."""
    import pickle

    from lint_rules.cache import EXISTS, Entry, WorkerYield, decode_cache

    init = ("/p/pkg/__init__.py", EXISTS)
    base = ("/p/pkg/base.py", digest(b"class Base: ..."))
    cache = ResultCache(tmp_path / "c.json")
    sent = {name: Entry((1, 2, 3, 4), True, digest(name.encode()), (), (init, base))
            for name in ("a", "b")}
    for name, entry in sent.items():
        cache.store(f"/p/pkg/{name}.py", f"pkg/{name}.py",
                    WorkerYield(pickle.loads(pickle.dumps(entry))))
    a, b = (cache.entries[cache.key(f"/p/pkg/{n}.py", f"pkg/{n}.py")] for n in ("a", "b"))
    assert a == sent["a"] and b == sent["b"]
    assert all(x is y for x, y in zip(a.deps, b.deps))
    cache.save()
    assert decode_cache((tmp_path / "c.json").read_bytes())["entries"] == cache.entries
