"""Mutation check for issue 14 (LLA005 by provenance), on real SDK code.

Copies SDK source trees into a temp folder, picks classes with methods in real modules, and
injects into each (at most `--per-tree` of them) one method per defect shape (a per-tenant
parameter or field written into process-global state) and one per safe rewrite (an environment
value read at start-up restored, a keyed cache, a value from `os.getenv`, a slot keyed by a fresh
token), then runs the tool once per tree and prints, per shape, recall (injected defects reported
on the marked line) and false alarms (LLA005 findings inside the safe rewrites).

    python benchmarks/mutants_process_state.py [TREE ...]   # default: /tmp/snap-sdk/src/* and
                                                            # the unpacked corpus (/work/sdk-cache/src/*)

Downloads nothing: trees are folders that already exist.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

IMPORTS = "import os as _mut_os\nimport secrets as _mut_secrets\nimport litellm as _mut_litellm\n"
GLOBALS = "\n\n# --- injected by mutants_process_state.py ---\n_MUT_SHARED = {}\n_MUT_LIST = []\n"

# shape -> (method parameters, body lines, index of the line that must be reported or None)
# `{C}` is the class name.
DEFECTS = {
    "environ_param": ("tenant_api_key", ['_mut_os.environ["MUT_API_KEY"] = tenant_api_key'], 0),
    "environ_update_field": ("", ['_mut_os.environ.update({"MUT_API_KEY": self.api_key})'], 0),
    "environ_setdefault_param": ("api_key", ['_mut_os.environ.setdefault("MUT_API_KEY", api_key)'], 0),
    "module_dict_param": ("conversation_id",
                          ['_MUT_SHARED["x-litellm-session-id"] = str(conversation_id)'], 0),
    "module_list_field": ("", ["_MUT_LIST.append(self.api_key)"], 0),
    "class_attr_type_self": ("api_key", ["type(self).mut_api_key = api_key"], 0),
    "class_attr_by_name": ("tenant", ["{C}.mut_api_key = tenant.api_key"], 0),
    "library_attr": ("", ["_mut_litellm.api_key = self.api_key"], 0),
    "library_list_append": ("api_key", ["_mut_litellm.headers.update({'Authorization': api_key})"], 0),
    "through_local": ("tenant", ["key = tenant.api_key.strip()",
                                 '_mut_os.environ["MUT_API_KEY"] = key'], 1),
}
SAFE = {
    "env_restored": ("", ['original_api_key = _mut_os.environ.get("MUT_API_KEY")',
                          "self._mut_run()",
                          'if original_api_key is not None:',
                          '    _mut_os.environ["MUT_API_KEY"] = original_api_key'], None),
    "value_from_getenv": ("", ['token = _mut_os.getenv("MUT_TOKEN", "")',
                               '_mut_os.environ["MUT_TOKEN_COPY"] = token'], None),
    "keyed_by_tenant": ("tenant_id, api_key", ["_MUT_SHARED[tenant_id] = api_key"], None),
    "memo_keyed_by_input": ("service_account",
                            ["access_token = _mut_fetch(service_account)",
                             "_MUT_SHARED[service_account] = (access_token, 0)"], None),
    "keyed_by_fresh_token": ("api_key", ["code = _mut_secrets.token_urlsafe(32)",
                                         '_MUT_SHARED[code] = {"api_key": api_key}'], None),
    "env_constant": ("", ['_mut_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")'], None),
    "subprocess_env_copy": ("", ["env = dict(_mut_os.environ)",
                                 'env["MUT_API_KEY"] = self.api_key', "return env"], None),
    "response_of_own_request": ("", ['data = _mut_fetch(_mut_os.environ.get("MUT_APP_KEY"))',
                                     "global _MUT_TOKEN",
                                     '_MUT_TOKEN = data["access_token"]'], None),
}


def _sites(tree: Path, limit: int) -> list[tuple[Path, ast.ClassDef]]:
    out = []
    for path in sorted(tree.rglob("*.py")):
        if len(out) >= limit:
            break
        if "test" in path.name:
            continue
        try:
            source = path.read_text(encoding="utf-8")
            module = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in module.body:
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(m, ast.FunctionDef) and m.args.args and m.args.args[0].arg == "self"
                    for m in node.body):
                out.append((path, node))
                break
    return out


def _inject(path: Path, cls: ast.ClassDef, index: int) -> dict[str, tuple[int, int, int | None]]:
    """Adds the shapes to `cls`; returns shape -> (first line, last line, marker line)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    module = ast.parse("\n".join(lines))
    insert_at = 0  # after the docstring and `from __future__` imports
    for stmt in module.body:
        if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)) or (
                isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
            insert_at = stmt.end_lineno or insert_at
        else:
            break
    method = next(m for m in cls.body if isinstance(m, ast.FunctionDef))
    indent = " " * method.col_offset
    body_indent = indent + "    "
    generated: list[str] = []
    spans: dict[str, tuple[int, int, int | None]] = {}
    # line numbers after inserting the imports (3 lines) and the class end
    base = (cls.end_lineno or 0) + IMPORTS.count("\n")
    for shape, (params, body, marker) in {**DEFECTS, **SAFE}.items():
        name = f"_mut{index}_{shape}"
        sig = f"self, {params}" if params else "self"
        start = base + len(generated) + 1
        generated.append(f"{indent}def {name}({sig}):")
        for line in body:
            generated.append(body_indent + line.replace("{C}", cls.name))
        end = base + len(generated)
        spans[shape] = (start, end, None if marker is None else start + 1 + marker)
    tail = GLOBALS + "\n\ndef _mut_fetch(x):\n    return {'access_token': x}\n"
    new = lines[:insert_at] + IMPORTS.rstrip("\n").split("\n") + lines[insert_at:cls.end_lineno] \
        + generated + lines[cls.end_lineno:] + tail.split("\n")
    path.write_text("\n".join(new), encoding="utf-8")
    return spans


def _findings(root: Path, tool: Path) -> dict[str, set[int]]:
    proc = subprocess.run(
        [sys.executable, "-m", "lint_rules", "check", "--no-cache", "--select", "LLA005",
         "--output-format", "concise", "--exit-zero", "."],
        cwd=root, capture_output=True, text=True, check=False,
        env={**__import__("os").environ, "PYTHONPATH": str(tool)})
    out: dict[str, set[int]] = defaultdict(set)
    for line in proc.stdout.splitlines():
        m = re.match(r"(.+?):(\d+):\d+: LLA005", line)
        if m:
            out[str((root / m.group(1)).resolve())].add(int(m.group(2)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--per-tree", type=int, default=8)
    parser.add_argument("--tool", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="checkout whose lint_rules runs (default: this one), e.g. /work/main")
    args = parser.parse_args()
    trees = args.trees or sorted([*Path("/tmp/snap-sdk/src").glob("*"),
                                  *Path("/work/sdk-cache/src").glob("*")])
    trees = [t for t in trees if t.is_dir()]
    hit: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    false_alarms: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory(prefix="mut-lla005-") as tmp:
        for n, tree in enumerate(trees):
            copy = Path(tmp) / f"{n}-{tree.name}"
            shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("*.dist-info", "__pycache__"))
            injected = []
            for i, (path, cls) in enumerate(_sites(copy, args.per_tree)):
                injected.append((path, _inject(path, cls, i)))
            found = _findings(copy, args.tool)
            for path, spans in injected:
                lines = found.get(str(path.resolve()), set())
                for shape, (start, end, marker) in spans.items():
                    if marker is not None:
                        total[shape] += 1
                        hit[shape] += marker in lines
                    else:
                        total[shape] += 1
                        false_alarms[shape] += any(start <= ln <= end for ln in lines)
            print(f"{tree.name}: {len(injected)} classes", file=sys.stderr)
    print(f"{'shape':28} {'kind':7} result")
    for shape in DEFECTS:
        print(f"{shape:28} defect  recall {hit[shape]}/{total[shape]}")
    for shape in SAFE:
        print(f"{shape:28} safe    false alarms {false_alarms[shape]}/{total[shape]}")
    d_hit, d_total = sum(hit.values()), sum(total[s] for s in DEFECTS)
    fa, s_total = sum(false_alarms.values()), sum(total[s] for s in SAFE)
    print(f"overall recall {d_hit}/{d_total}, false alarms {fa}/{s_total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
