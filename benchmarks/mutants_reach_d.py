#!/usr/bin/env python3
"""Mutation check for one tenant's records written into the process environment (issue 15,
reach-d): a setter of the same file that writes its parameter into `os.environ` (letta's
`temporary_env_vars`), called with records looked up for one user or tenant, or those records
written there directly; instance data under an environment variable whose name says it is a
credential or an identity (mem0's GOOGLE_APPLICATION_CREDENTIALS, litellm's LANGFUSE_PROJECT_ID);
plus safe rewrites that must stay silent. Injected into real SDK code at
sites found automatically; prints recall and false alarms per shape.

    python benchmarks/mutants_reach_d.py [--per-shape 12] [--wheels DIR] [-v]

Sites: methods (first parameter `self`, not start-up code) of the published wheels (default
folder `/work/sdk-cache`; a missing wheel is fetched with `pip download --no-deps` of the pinned
release into a temp folder). The snippet goes first in the body (after the docstring); the
setters it calls are appended at the end of the module (with their own `import os as _mut_os`),
so no line before them moves. Each mutant is one file checked alone, against a baseline of the
same file with the setters appended; a positive is detected when LLA005 reports the marked line,
a false alarm is any other new LLA005 finding.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
import mutants_guards_swaps_bypass as base  # noqa: E402

WHEELS = {
    "letta-0.16.8": "letta==0.16.8",
    "camel_ai-0.2.90": "camel-ai==0.2.90",
    "crewai-1.15.30": "crewai==1.15.30",
    "google_adk-2.13.0": "google-adk==2.13.0",
    "haystack_ai-3.4.1": "haystack-ai==3.4.1",
    "smolagents-1.26.0": "smolagents==1.26.0",
    "mem0ai-2.2.1": "mem0ai==2.2.1",
}

# Setters appended to the module: a method-free function writing a mapping, one writing item by
# item, one handing its parameter on.
SETTERS = """

import os as _mut_os


def _mut_set_env(values):
    _mut_os.environ.update(values)


def _mut_put_all(values):
    for _k, _v in values.items():
        _mut_os.environ[_k] = str(_v)


def _mut_outer(cfg, env):
    return _mut_set_env(env)
"""

# (name, positive?, snippet). `#MUT` marks the line that must be reported.
SHAPES: list[tuple[str, bool, str]] = [
    ("setter: records for the acting user", True,
     "_mut_set_env(self._mut_store.get_env_vars(actor=self.user))  #MUT"),
    ("setter: item by item, tenant id", True,
     "_mut_put_all(self._mut_store.env_for(tenant_id=self._mut_tenant))  #MUT"),
    ("setter: two calls away", True,
     "_mut_outer(None, self._mut_store.secrets_for(self.organization_id))  #MUT"),
    ("setter: merged into a copy of the environment first", True,
     "_env = _mut_os.environ.copy()\n"
     "_env.update(self._mut_mgr.get_sandbox_env_vars_as_dict(actor=self.user))\n"
     "_mut_set_env(_env)  #MUT"),
    ("direct: os.environ.update(records)", True,
     "_mut_os.environ.update(self._mut_mgr.get_secrets_as_dict(user_id=self._mut_uid))  #MUT"),
    ("named: credentials file of the instance's config", True,
     '_mut_os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = self._mut_cfg.credentials_path  #MUT'),
    ("named: project id fetched by the instance's client", True,
     "_pid = self._mut_client.project_id()\n"
     '_mut_os.environ["LANGFUSE_PROJECT_ID"] = _pid  #MUT'),
    ("named: setdefault of a tenant id", True,
     '_mut_os.environ.setdefault("ACME_TENANT_ID", self._mut_tenant)  #MUT'),
    ("safe: setter with constants", False, '_mut_set_env({"TOKENIZERS_PARALLELISM": "false"})'),
    ("safe: setter with the caller's mapping, no identity", False, "_mut_set_env(self._mut_extra)"),
    ("safe: records in a private copy for a subprocess", False,
     "_env = _mut_os.environ.copy()\n"
     "_env.update(self._mut_mgr.get_env_vars(actor=self.user))\n"
     "_mut_run(env=_env)"),
    ("safe: looked up by a config id", False,
     "_mut_os.environ.update(self._mut_mgr.get_env_vars(config_id=self._mut_cid))"),
    ("safe: named variable, a constant", False,
     '_mut_os.environ["LANGFUSE_PROJECT_ID"] = "mock-project-id"'),
    ("safe: instance data under a name that says nothing", False,
     '_mut_os.environ["CODE_INTERPRETER_EXTENSION_NAME"] = self._mut_name'),
    ("safe: named variable in a copy for a subprocess", False,
     "_env = dict(_mut_os.environ)\n"
     '_env["GOOGLE_APPLICATION_CREDENTIALS"] = self._mut_path\n'
     "_mut_run(env=_env)"),
    ("safe: records read, not written", False,
     "_vars = self._mut_mgr.get_env_vars(actor=self.user)"),
]


def sites(roots: list[Path], limit: int) -> list[tuple[Path, ast.FunctionDef]]:
    """Plain methods (first parameter `self`, no `yield`), spread over the packages."""
    per_root = []
    for root in roots:
        found = []
        for path, tree in corpus.parsed_modules(root):
            for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
                for node in cls.body:
                    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        continue
                    if not node.args.args or node.args.args[0].arg != "self" or node.decorator_list:
                        continue
                    if node.body and node.body[0].lineno > node.lineno \
                            and not any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node)):
                        found.append((path, node))
        per_root.append(found)
    return base._round_robin(per_root, limit)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-shape", type=int, default=12)
    parser.add_argument("--wheels", type=Path, default=Path("/work/sdk-cache"))
    parser.add_argument("--verbose", "-v", action="store_true", help="list misses and alarms")
    args = parser.parse_args()
    base.WHEELS = WHEELS
    where: dict[str, str] = {}
    rule = "LLA005"
    with tempfile.TemporaryDirectory(prefix="mutants-reach-d-") as tmp:
        work = Path(tmp)
        roots = base.unpack(args.wheels, work / "src")
        mutants: list[base.Mutant] = []
        baselines: dict[str, str] = {}
        for s, (path, fn) in enumerate(sites(roots, args.per_shape)):
            where[f"f{s}"] = f"{path.relative_to(work / 'src')}:{fn.lineno} {fn.name}"
            lines = path.read_text(encoding="utf-8").splitlines() + SETTERS.splitlines()
            first = base.first_statement(fn)
            baselines[f"f{s}"] = "\n".join(lines) + "\n"
            for name, positive, snippet in SHAPES:
                new, marked, n = base.insert(lines, first.lineno, first.col_offset, snippet)
                mutants.append(base.Mutant(name, rule, positive, "\n".join(new) + "\n",
                                           marked, f"f{s}", first.lineno, n))
        files = {f"b_{k}": v for k, v in baselines.items()}
        files.update({f"m_{i}": m.source for i, m in enumerate(mutants)})
        found = corpus.check_files(files, work / "files", rule)
    rows: dict[str, list[int]] = {}
    for i, m in enumerate(mutants):
        before = [(c, ln + m.inserted if ln >= m.inserted_at else ln)
                  for c, ln in found[f"b_{m.baseline}"] if c == rule]
        mine = [(c, ln) for c, ln in found[f"m_{i}"] if c == rule]
        hit = m.expected_line is not None and (rule, m.expected_line) in mine
        alarms = [f for f in mine if f not in before and f != (rule, m.expected_line)]
        row = rows.setdefault(m.shape, [0, 0, 0])
        row[0] += 1
        row[1] += int(hit) if m.positive else 0
        row[2] += int(bool(alarms))
        if args.verbose and ((m.positive and not hit) or alarms):
            what = "missed" if m.positive and not hit else "alarm"
            print(f"{what}: {m.shape} at {where[m.baseline]} {alarms}")
    print(f"sites: {len(where)}")
    print("| shape | kind | mutants | detected | mutants with a false alarm |")
    print("| --- | --- | --- | --- | --- |")
    for shape, (n, hits, alarms) in rows.items():
        positive = next(m.positive for m in mutants if m.shape == shape)
        print(f"| {shape} | {'defect' if positive else 'safe'} | {n} | "
              f"{f'{hits}/{n}' if positive else '-'} | {alarms} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
