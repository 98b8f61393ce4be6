"""Mutation-style test: fixes must preserve or improve the sample SDK's behaviour.

A copy of tests/fixtures/sample_sdk is fixed with `check --fix --unsafe-fixes` (the real CLI,
in a subprocess); then the package's own behaviour tests (tests_sample/, which fail on the
planted defects) run in a subprocess before and after. Asserted:

- no test that passed before fails after (behaviour preserved);
- every test whose planted defects all had a fix now passes (the fixes repair what they
  claim to) - measured on whatever fixes the rules offer today, so this grows with them;
- the fixed package still compiles, and a second fix run changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent / "fixtures" / "sample_sdk"
REPO = Path(__file__).parents[1]

# tests_sample test -> the planted defects (file, line, code) it fails on; from the module
# docstring of tests_sample/test_isolation.py and the README's table.
BASE, LOCAL = "agentsdk/conversation/base.py", "agentsdk/conversation/local_conversation.py"
DEFECTS_BY_TEST: dict[str, set[tuple[str, int, str]]] = {
    "test_shared_llm_two_conversations_keep_separate_session_ids": {
        (BASE, 61, "LLA003"), (BASE, 65, "LLA003"), (BASE, 65, "LLA006")},
    "test_shared_llm_two_conversations_keep_separate_prompt_cache_keys": {(BASE, 53, "LLA006")},
    "test_conversation_leaves_callers_llm_untouched": {
        (BASE, 53, "LLA006"), (BASE, 65, "LLA006"), (BASE, 61, "LLA003"), (BASE, 65, "LLA003")},
    "test_switch_llm_keeps_session_affinity": {(LOCAL, 86, "LLA002")},
    "test_switch_profile_keeps_session_affinity": {(LOCAL, 86, "LLA002")},
    "test_condenser_switch_keeps_session_affinity": {(LOCAL, 109, "LLA002")},
    "test_call_site_headers_keep_session_affinity": {("agentsdk/llm.py", 60, "LLA004")},
    "test_delegation_does_not_leak_into_other_conversations": {
        (LOCAL, 130, "LLA006"), (BASE, 53, "LLA006"), (BASE, 65, "LLA006")},
    "test_cache_retry_keeps_call_context": {("agentsdk/fallback.py", 56, "LLA007")},
    "test_fallback_keeps_call_context": {("agentsdk/fallback.py", 38, "LLA007")},
    "test_condenser_retry_keeps_call_context": {("agentsdk/agent.py", 36, "LLA007")},
    "test_tenant_config_leaves_process_environment_alone": {
        ("agentsdk/tenant.py", 37, "LLA005"), ("agentsdk/tenant.py", 38, "LLA005"),
        ("agentsdk/tenant.py", 41, "LLA005")},
    "test_default_agent_leaves_callers_llm_untouched": {("agentsdk/presets.py", 21, "LLA001")},
    "test_router_conversation_llm_leaves_registry_untouched": {
        ("agentsdk/llm_router.py", 46, "LLA001")},
}


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "AGENTSDK_SAMPLE_TESTS": "1"}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "lint_rules", *args], cwd=cwd,
                          capture_output=True, timeout=300, env=env())
    assert "Traceback" not in proc.stderr.decode(), proc.stderr.decode()
    return proc


def sample_results(root: Path, tag: str) -> dict[str, bool]:
    """test name -> passed, from the sample's own tests run in a fresh interpreter."""
    report = root / f"report-{tag}.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "tests_sample", f"--junitxml={report}"],
                   cwd=root, capture_output=True, timeout=300, env=env())
    results = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failed = any(child.tag in ("failure", "error") for child in case)
        skipped = any(child.tag == "skipped" for child in case)
        if not skipped:
            results[case.get("name", "")] = not failed
    return results


@pytest.mark.slow
def test_fixes_preserve_or_improve_the_sample_behaviour(tmp_path):
    if not (SAMPLE / "tests_sample").is_dir():
        pytest.skip("the sample SDK is not in this checkout")
    copy = tmp_path / "sample_sdk"
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))

    before = sample_results(copy, "before")
    assert before and not all(before.values()), "the planted defects should fail some tests"
    assert set(DEFECTS_BY_TEST) <= set(before)

    findings = json.loads(cli("check", "--unsafe-fixes", "--output-format", "json", ".",
                              cwd=copy).stdout)
    fixable = {(str(Path(d["filename"]).resolve().relative_to(copy.resolve())),
                d["location"]["row"], d["code"]) for d in findings if d["fix"]}

    fixed = cli("check", "--fix", "--unsafe-fixes", "--show-fixes", ".", cwd=copy)
    assert fixed.returncode in (0, 1), fixed.stderr.decode()
    for path in copy.rglob("*.py"):
        compile(path.read_bytes(), str(path), "exec")
    again = cli("check", "--fix", "--unsafe-fixes", "--diff", ".", cwd=copy)
    assert again.returncode in (0, 1) and again.stdout == b"", again.stdout.decode()[:2000]

    after = sample_results(copy, "after")
    broken = sorted(t for t, ok in before.items() if ok and not after.get(t, False))
    assert broken == [], f"fixes broke previously passing sample tests: {broken}"
    meant = {t for t, defects in DEFECTS_BY_TEST.items() if defects <= fixable}
    unrepaired = sorted(t for t in meant if not after.get(t, False))
    assert unrepaired == [], f"fixed every defect these tests depend on, yet they fail: {unrepaired}"
    repaired = sorted(t for t, ok in after.items() if ok and not before.get(t, False))
    print(f"\nsample: {sum(before.values())}/{len(before)} passed before, "
          f"{sum(after.values())}/{len(after)} after; fixable findings {len(fixable)}; "
          f"repaired {repaired}")
