"""The package's layers: every import points down (or stays within its layer).

core < syntax < analysis < rules < engine < fixes < api < runner (runner, cache, cache_index, discovery)
< front-ends (cli, flake8 plugin, output formats, docs). Function-local imports count too, and
each has a one-line comment saying why: one of another package loads an optional dependency
lazily; one of a package module (nothing is circular) keeps the checker (libcst, the analysis,
the rules) out of a run that checks nothing, whose time is mostly start-up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lint_rules"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("lint_rules.core",)),
    ("syntax", ("lint_rules.syntax",)),
    ("analysis", ("lint_rules.analysis",)),
    ("rules", ("lint_rules.rules",)),
    ("engine", ("lint_rules.engine",)),
    ("fixes", ("lint_rules.fixes",)),
    ("api", ("lint_rules.api",)),
    ("runner", ("lint_rules.runner", "lint_rules.cache", "lint_rules.cache_index",
                "lint_rules.discovery")),
    ("front-ends", ("lint_rules.cli", "lint_rules.flake8_plugin", "lint_rules.output",
                    "lint_rules.docs", "lint_rules.__main__", "lint_rules")),
)


def layer_of(module: str) -> int:
    """Index of the most specific layer prefix that names the module."""
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return best


def module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path = PACKAGE.parent) -> list[tuple[int, str, bool, str]]:
    """(line, imported module, function-local?, the source line) for every import."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    local: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            local.update(id(n) for n in ast.walk(node) if n is not node)
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from lint_rules.analysis import llm_objects` imports the submodule
            targets = list(dict.fromkeys(
                f"{base}.{a.name}" if _is_module(f"{base}.{a.name}", root) else base
                for a in node.names))
        else:
            continue
        for target in targets:
            found.append((node.lineno, target, id(node) in local, lines[node.lineno - 1]))
    return found


def _is_module(dotted: str, root: Path) -> bool:
    rel = Path(*dotted.split("."))
    return (root / rel).with_suffix(".py").is_file() or (root / rel).is_dir()


MODULES = sorted(PACKAGE.rglob("*.py"))


def upward_imports(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    me = module_name(path, root)
    mine = layer_of(me)
    bad = []
    for line, target, _, _ in imports(path, root):
        if target == "lint_rules" or target.startswith("lint_rules."):
            theirs = layer_of(target)
            if theirs > mine:
                bad.append(f"{path.relative_to(root)}:{line}: {me} ({LAYERS[mine][0]}) "
                           f"imports {target} ({LAYERS[theirs][0]})")
    return bad


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_point_down(path: Path) -> None:
    assert upward_imports(path) == []


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_function_local_imports_are_lazy_optional_dependencies(path: Path) -> None:
    source_lines = path.read_text(encoding="utf-8").splitlines()
    for line, target, local, _ in imports(path):
        if not local:
            continue
        above_at = line - 2  # the comment may head a block of such imports
        while above_at >= 0 and source_lines[above_at].strip().startswith(("from ", "import ")):
            above_at -= 1
        above = source_lines[above_at].strip() if above_at >= 0 else ""
        assert above.startswith("#"), (
            f"{path.name}:{line}: a function-local import of {target} needs a one-line reason "
            "in a comment on the line above")


def test_every_module_is_in_a_layer() -> None:
    for path in MODULES:
        layer_of(module_name(path))


def test_the_check_sees_upward_and_relative_imports(tmp_path: Path) -> None:
    """The test above can fail: an analysis module importing the engine is caught, spelled
    absolutely inside a function or relatively at the top."""
    probe = tmp_path / "lint_rules" / "analysis" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from ..rules import base\n\ndef f():\n    from lint_rules.engine import check_text\n",
                     encoding="utf-8")
    assert upward_imports(probe, tmp_path) == [
        "lint_rules/analysis/probe.py:1: lint_rules.analysis.probe (analysis) "
        "imports lint_rules.rules (rules)",
        "lint_rules/analysis/probe.py:4: lint_rules.analysis.probe (analysis) "
        "imports lint_rules.engine (engine)"]
