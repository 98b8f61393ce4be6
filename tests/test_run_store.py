"""The facts one run's workers share (`core/run_store.py`): published once, read by the others,
never trusted when torn, and gone when the run ends."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from lint_rules import runner
from lint_rules.analysis.project_index import ProjectIndex
from lint_rules.analysis.text_facts import FactMemo
from lint_rules.core.config import Config
from lint_rules.core.run_store import MISSING, RunStore, run_store, use_run_store
from lint_rules.runner import RunOptions, run

HERE = Path(__file__).parent


@pytest.fixture
def store(tmp_path):
    shared = RunStore(str(tmp_path / "run"), 0, 2)
    os.mkdir(shared.folder)
    use_run_store(shared)
    yield shared
    use_run_store(None)


def test_a_published_value_is_read_back_and_other_keys_are_missing(store) -> None:
    assert store.load(("fact", b"d1")) is MISSING
    store.save(("fact", b"d1"), {"names": frozenset({"pin"})})
    assert store.load(("fact", b"d1")) == {"names": frozenset({"pin"})}
    assert store.load(("fact", b"d2")) is MISSING
    assert len(os.listdir(store.folder)) == 1  # the fact, and no temporary file


def test_a_torn_file_is_missing_and_an_unwritable_folder_shares_nothing(store, tmp_path) -> None:
    store.save(("fact", b"d1"), [1, 2, 3])
    (name,) = os.listdir(store.folder)
    Path(store.folder, name).write_bytes(b"\x80\x05garbage")
    assert store.load(("fact", b"d1")) is MISSING
    gone = RunStore(str(tmp_path / "no-such-folder"))
    gone.save(("fact", b"d1"), [1])  # no error: the fact is simply not shared
    assert gone.load(("fact", b"d1")) is MISSING


def test_workers_start_their_scans_at_different_modules() -> None:
    items = list(range(10))
    assert RunStore("x", 0, 2).rotated(items) == items
    assert RunStore("x", 1, 2).rotated(items) == [5, 6, 7, 8, 9, 0, 1, 2, 3, 4]
    assert RunStore("x", 2, 3).rotated(items)[0] == 6
    assert RunStore("x", 0, 1).rotated(items) == items
    # flake8's workers are forked with one store: the process id picks the share.
    assert RunStore("x", None, 2).rotated(items) == RunStore("x", os.getpid() % 2, 2).rotated(items)


def test_a_text_fact_computed_by_one_worker_is_not_computed_by_another(store) -> None:
    computed: list[str] = []

    def compute(who: str):
        def fact() -> tuple:
            computed.append(who)
            return ("facts", who)
        return fact

    key = ("scan", "m.py", b"digest", "")
    first, second = FactMemo(), FactMemo()  # two workers' memos
    assert first.get("fp", key, tuple, compute("first")) == ("facts", "first")
    assert second.get("fp", key, tuple, compute("second")) == ("facts", "first")
    assert computed == ["first"]
    # Other settings or another text: a fact of its own.
    assert second.get("fp2", key, tuple, compute("second")) == ("facts", "second")
    use_run_store(None)
    assert FactMemo().get("fp", key, tuple, compute("alone")) == ("facts", "alone")
    assert computed == ["first", "second", "alone"]


def test_a_module_summary_is_read_from_the_run_while_its_text_is_unchanged(store, tmp_path,
                                                                          monkeypatch) -> None:
    module = tmp_path / "helpers.py"
    module.write_text("def pin(llm, cid):\n    llm.extra_headers['x-litellm-session-id'] = cid\n")
    first = ProjectIndex(Config())._summarize_file(module)
    assert first is not None and "pin" in first.functions

    def no_parse(*_args):
        raise AssertionError("summarised again")

    monkeypatch.setattr(ProjectIndex, "_summarize_text", no_parse)
    assert ProjectIndex(Config())._summarize_file(module) == first  # another worker's index
    module.write_text("def pin(llm, cid):\n    return None\n")
    with pytest.raises(AssertionError, match="summarised again"):
        ProjectIndex(Config())._summarize_file(module)


def test_a_pool_run_shares_facts_in_a_folder_it_removes(tmp_path, monkeypatch) -> None:
    src = tmp_path / "src"
    shutil.copytree(HERE / "fixtures" / "sample_sdk", src / "sample_sdk")
    made: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs) -> str:
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(runner, "PARALLEL_THRESHOLD", 1)
    serial = run([src], Config(), RunOptions(jobs=1), project_root=tmp_path)
    assert not made and run_store() is None  # one process: nothing to share
    pooled = run([src], Config(), RunOptions(jobs=2), project_root=tmp_path)
    assert len(made) == 1 and not os.path.exists(made[0])
    assert pooled.diagnostics and pooled.diagnostics == serial.diagnostics
