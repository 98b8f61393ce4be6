"""Mutation check for issue 13: ownership across calls, containers and aliases, on real SDK code.

Copies SDK source trees into a temp folder, finds classes whose `__init__` stores a parameter by
reference (`self.agent = agent`: `self.agent.llm` is then a borrowed LLM), and injects into each
such class (at most `--per-tree` of them) one method per defect shape and one per safe rewrite,
plus module-level callees appended to the file and a sibling module for the cross-module hop.
LLM classes (a class named like a configured LLM class, or deriving from one) get the
`self`-of-a-shared-LLM shape. Then runs the tool once per tree and prints, per shape, recall
(injected defects reported on the marked line) and false alarms (findings inside safe rewrites).

    python benchmarks/mutants_ownership.py [TREE ...]   # default: /tmp/snap-sdk/src/* and
                                                        # wheels in /work/sdk-cache (unzipped)

Downloads nothing: trees are folders, or wheels already in /work/sdk-cache (unzipped into the
temp folder, never into the cache).
"""

from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

KEY = '"x-litellm-session-id"'
HELPERS = f'''

# --- injected by mutants_ownership.py ---
import copy as _mut_copy


def _mut_stamp(target, sid):
    target.extra_headers[{KEY}] = sid


def _mut_title(target):
    target.extra_headers["X-Title"] = "app"


class _MutHolder:
    def __init__(self, target, sid):
        target._prompt_cache_key = sid
'''
SIBLING = f'''
def mut_remote_stamp(target, sid):
    target.extra_headers.update({{{KEY}: sid}})
'''

# shape -> (method body lines, index of the line that must be reported, or None for safe ones)
# `{a}` is the borrowed attribute (`self.agent`), `{p}` the unique prefix of the method names.
DEFECTS = {
    "hop_module_function": (["_mut_stamp({a}.llm, str(id(self)))"], 0),
    "hop_private_method": (["self.{p}_write({a}.llm)"], 0),
    "hop_other_module": (["from .{sib} import mut_remote_stamp",
                          "mut_remote_stamp({a}.llm, str(id(self)))"], 1),
    "hop_constructor": (["_MutHolder({a}.llm, str(id(self)))"], 0),
    "wrapped_iteration": (["for m in list(({a}.llm,)):",
                           "    _mut_stamp(m, str(id(self)))"], 1),
    "comprehension": (["llms = [x for x in ({a}.llm, {a}.llm) if x is not None]",
                       "for m in llms:", "    _mut_stamp(m, str(id(self)))"], 2),
    "field_alias": (["headers = {a}.llm.extra_headers",
                     "headers[" + KEY + "] = str(id(self))", "self._mut_n = 1"], 1),
    "nested_dict": (["d = {{'h': {a}.llm.extra_headers}}",
                     "d['h'][" + KEY + "] = str(id(self))", "self._mut_n = 1"], 1),
    "shallow_copy_update": (["c = {a}.llm.model_copy()",
                             "c.extra_headers.update({{" + KEY + ": str(id(self))}})",
                             "self._mut_n = 1"], 1),
}
SAFE = {
    "hop_deep_copy": ["_mut_stamp(_mut_copy.deepcopy({a}.llm), str(id(self)))"],
    "hop_private_copies_only": ["self.{p}_only({a}.llm.model_copy(update={{'extra_headers': {{}}}}))"],
    "hop_not_scoped": ["_mut_title({a}.llm)"],
    "hop_not_an_llm": ["_mut_stamp(object(), str(id(self)))"],
    "shallow_copy_replaced": ["c = {a}.llm.model_copy(update={{'extra_headers': dict({a}.llm.extra_headers or {{}})}})",
                              "c.extra_headers[" + KEY + "] = str(id(self))"],
    "nested_dict_of_copy": ["d = {{'h': dict({a}.llm.extra_headers or {{}})}}",
                            "d['h'][" + KEY + "] = str(id(self))"],
    "fresh_llm": ["m = _mut_copy.deepcopy({a}.llm)", "_MutHolder(m, str(id(self)))"],
}
LLM_DEFECT = ("self_of_shared_llm", ["self._prompt_cache_key = run_id"], 0)
LLM_SAFE = ("llm_copy_then_write", ["mine = _mut_copy.deepcopy(self)",
                                     "mine._prompt_cache_key = run_id", "return mine"])
LLM_CLASS_NAMES = ("LLM",)  # the default `llm-classes`; other names need configuring


def _stored_params(cls: ast.ClassDef) -> list[str]:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            params = {a.arg for a in item.args.args[1:]}
            out = []
            for node in ast.walk(item):
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    t = node.targets[0]
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) \
                            and t.value.id == "self" and isinstance(node.value, ast.Name) \
                            and node.value.id in params and not t.attr.startswith("__"):
                        out.append(t.attr)
            return out
    return []


def _is_llm_class(cls: ast.ClassDef) -> bool:
    names = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
             for b in cls.bases]
    return cls.name in LLM_CLASS_NAMES or any(n in LLM_CLASS_NAMES for n in names)


def _method(name: str, body: list[str], indent: str, args: str = "self") -> list[str]:
    return [f"{indent}def {name}({args}):"] + [f"{indent}    {line}" for line in body]


def mutate_file(path: Path, counter: list[int]) -> list[tuple[str, str, int]]:
    """Inject into the first fitting class of `path`; returns (kind, shape, line) expectations."""
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
        stored = _stored_params(cls)
        llm_class = _is_llm_class(cls)
        if not stored and not llm_class:
            continue
        methods = [n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if not methods:
            continue
        indent = lines[methods[0].lineno - 1][: methods[0].col_offset]
        counter[0] += 1
        p = f"_mut{counter[0]}"
        sibling = f"_mut_sibling{counter[0]}"
        insert_at = cls.end_lineno  # after the class's last line
        new: list[str] = [""]
        expected: list[tuple[str, str, int]] = []
        base_line = insert_at + 1  # 1-based line of new[0] once inserted

        def add(name: str, body: list[str], kind: str, shape: str, marked: int | None,
                args: str = "self") -> None:
            start = base_line + len(new)
            new.extend(_method(name, body, indent, args))
            if marked is not None:
                expected.append((kind, shape, start + 1 + marked))
            else:
                for i in range(len(body)):
                    expected.append((kind, shape, start + 1 + i))

        if stored:
            a = f"self.{stored[0]}"
            add(f"{p}_write", ["llm._prompt_cache_key = str(id(self))", "self._mut_w = 1"],
                "callee", "-", None, "self, llm")
            add(f"{p}_only", ["llm._prompt_cache_key = str(id(self))", "self._mut_w = 1"],
                "callee", "-", None, "self, llm")
            for shape, (body, marked) in DEFECTS.items():
                add(f"{p}_{shape}", [b.format(a=a, p=p, sib=sibling) for b in body],
                    "defect", shape, marked)
            for shape, body in SAFE.items():
                add(f"{p}_{shape}", [b.format(a=a, p=p) for b in body], "safe", shape, None)
        if llm_class:
            shape, body, marked = LLM_DEFECT
            add(f"{p}_{shape}", body, "defect", shape, marked, "self, run_id")
            shape, body = LLM_SAFE
            add(f"{p}_{shape}", body, "safe", shape, None, "self, run_id")
        lines[insert_at:insert_at] = new
        text = "\n".join(lines) + "\n" + HELPERS
        path.write_text(text, encoding="utf-8")
        (path.parent / f"{sibling}.py").write_text(SIBLING, encoding="utf-8")
        # Callee bodies are not findings of the shapes: drop them from the expectations.
        return [e for e in expected if e[0] != "callee"]
    return []


def findings(tree: Path) -> set[tuple[str, int, str]]:
    out = subprocess.run([sys.executable, "-m", "lint_rules", "check", "--no-cache",
                          "--output-format", "concise", str(tree)],
                         capture_output=True, text=True, check=False).stdout
    found = set()
    for line in out.splitlines():
        parts = line.split(":", 3)
        if len(parts) == 4 and parts[1].isdigit() and " LLA0" in parts[3][:10]:
            found.add((str(Path(parts[0]).resolve()), int(parts[1]), parts[3].split()[0]))
    return found


def trees(args: list[str], work: Path) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    out = sorted(p for p in Path("/tmp/snap-sdk/src").glob("*") if p.is_dir())
    for wheel in sorted(Path("/work/sdk-cache").glob("*.whl")):
        name = wheel.name.split("-py3")[0].split("-cp3")[0]
        if any(t.name == name for t in out) or name.startswith("litellm"):
            continue
        target = work / "wheels" / name
        with zipfile.ZipFile(wheel) as z:
            z.extractall(target, [m for m in z.namelist()
                                  if m.endswith(".py") and ".dist-info/" not in m])
        out.append(target)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="*")
    parser.add_argument("--per-tree", type=int, default=25)
    ns = parser.parse_args(argv)
    recall: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    alarms: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for source in trees(ns.trees, work):
            copy = work / "copies" / source.name
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
            counter = [0]
            expected: list[tuple[str, str, str, int]] = []
            before = findings(copy)
            for path in sorted(copy.rglob("*.py")):
                if counter[0] >= ns.per_tree:
                    break
                if path.name.startswith("_mut_") or "test" in path.parts[-1]:
                    continue
                for kind, shape, line in mutate_file(path, counter):
                    expected.append((str(path.resolve()), kind, shape, line))
            if not expected:
                continue
            after = findings(copy) - before
            at = {(p, line) for p, line, _ in after}
            per_tree: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            seen_safe: set[tuple[str, str, int]] = set()
            for path, kind, shape, line in expected:
                if kind == "defect":
                    recall[shape][1] += 1
                    per_tree[shape][1] += 1
                    if (path, line) in at:
                        recall[shape][0] += 1
                        per_tree[shape][0] += 1
                else:
                    key = (path, shape, 0)
                    hit = (path, line) in at
                    if key not in seen_safe:
                        seen_safe.add(key)
                    alarms[shape][1] += 1
                    if hit:
                        alarms[shape][0] += 1
            print(f"{source.name}: {counter[0]} classes mutated, "
                  + ", ".join(f"{s} {a}/{b}" for s, (a, b) in sorted(per_tree.items())))
    print("\nrecall per defect shape (reported on the marked line / injected):")
    total = [0, 0]
    for shape, (a, b) in sorted(recall.items()):
        total[0] += a
        total[1] += b
        print(f"  {shape:24} {a:4}/{b:<4} {100 * a / b:5.1f}%")
    if total[1]:
        print(f"  {'all':24} {total[0]:4}/{total[1]:<4} {100 * total[0] / total[1]:5.1f}%")
    print("\nfalse alarms per safe rewrite (findings on its lines / lines injected):")
    for shape, (a, b) in sorted(alarms.items()):
        print(f"  {shape:24} {a:4}/{b:<4}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
