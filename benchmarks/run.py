#!/usr/bin/env python3
"""Benchmark llm-affinity-lint against the physical limit and the linters it sits beside.

    python benchmarks/run.py                 # full run (~10-15 min on 2 cores)
    python benchmarks/run.py --quick         # a 1/8 sample of the corpus, no x10, no fixit
    python benchmarks/run.py --repeat 5 --skip fixit,scale
    python benchmarks/run.py --corpus agent-sdk --skip fixit   # downloaded agent SDKs (AGENT_SDK)
    python benchmarks/run.py --corpus both

Corpus: every .py file of the installed standard library (sysconfig's stdlib path, without
site-packages / dist-packages), copied under benchmarks/.work/ (git-ignored), so that the
"touched one file" row can edit a file. P = one process running libcst.parse_module over every
file of the corpus. fixit and flake8 are installed on demand into virtual environments under
benchmarks/.work/ (pip, from the package index). Rows are medians of --repeat runs (P, fixit and
the x10 corpus run once: they are the slow ones). Peak memory is the peak sum of the proportional
set size (PSS: shared pages counted once) of the process tree, sampled every 20 ms.

--corpus agent-sdk checks, instead of (or with: both) the standard library, the agent-SDK corpus:
openhands-sdk, openhands-tools and openhands-agent-server 1.58.2 together, openai-agents and
pydantic-ai-slim (pinned in benchmarks/corpus.py, downloaded on demand, .py files copied under
benchmarks/.work/agent-sdk/). Its table has no x10 row. The ruff row (`ruff check --select ALL`)
runs when a `ruff` executable is on PATH or beside this interpreter.

Run it with the interpreter of the environment where llm-affinity-lint is installed (it runs
`python -m lint_rules`); the table is printed as markdown, ready for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / ".work"
PYTHON = sys.executable
SKIPPABLE = ("p", "fixit", "flake8", "plugin", "scale", "nocache", "ruff")
FIXIT_LIMIT = 25  # fixit is stopped after this many times our cold run

# Never run a tool with the corpus folder on sys.path (`python -m x` / `-c` put the working
# directory first, and the corpus *is* a standard library: its `multiprocessing` would shadow the
# real one). Console scripts and this file put their own folder first instead.
SCRIPT = str(Path(__file__).resolve())


def parse_all(root: str) -> None:
    """P: libcst.parse_module over every .py file under root, in this one process."""
    import warnings

    import libcst

    from lint_rules.core.source import decode_source

    warnings.simplefilter("ignore")
    n = ok = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            n += 1
            with open(os.path.join(folder, name), "rb") as fh:
                data = fh.read()
            try:
                libcst.parse_module(decode_source(data).text)
                ok += 1
            except Exception:
                pass
    print(n, ok)


# ---------------------------------------------------------------------------- measuring
def _tree_pss_kb(root_pid: int) -> int:
    """Sum of PSS over a process and its descendants (Linux); 0 where /proc is unavailable."""
    children: dict[int, list[int]] = {}
    try:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    stat = fh.read()
                ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
            except (OSError, ValueError):
                continue
    except OSError:
        return 0
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


@dataclass
class Sample:
    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    timed_out: bool = False


# The tool and P run from this checkout, whatever is installed in the running environment.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}


# Other linters run without this checkout on sys.path: its `*.egg-info` (an editable install)
# registers the flake8 plugin, which flake8's own venv then fails to load (no libcst there).
PLAIN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


EDITED = 6  # files the "one file edited" row edits in turn
RACY_S = 2.5  # lint_rules.cache.RACY_NS, and a little more


def edit_victims(files: list[Path]) -> list[Path]:
    """EDITED files at even steps through the sorted list (the middle one among them)."""
    if not files:
        return []
    step = max(1, len(files) // EDITED)
    return sorted({files[(len(files) // 2 + k * step) % len(files)] for k in range(EDITED)})


def measure(cmd: list[str], cwd: Path, env: dict | None = None, timeout: float = 3600) -> Sample:
    env = env or ENV
    peak = [0]
    start = time.perf_counter()
    # Its own process group, so that a timeout stops the tool's workers too.
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _tree_pss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        out, _ = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    return Sample(elapsed, peak[0] / 1024, proc.returncode, out, timed_out)


@dataclass
class Row:
    name: str
    samples: list[Sample] = field(default_factory=list)
    note: str = ""
    target: str = ""
    passed: bool | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(s.seconds for s in self.samples) if self.samples else None

    @property
    def peak_mb(self) -> float | None:
        return max(s.peak_mb for s in self.samples) if self.samples else None


# ---------------------------------------------------------------------------- corpora
def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "dist-packages", "__pycache__"))
        out.extend(Path(folder, f) for f in sorted(files) if f.endswith(".py"))
    return out


def build_corpus(dest: Path, files: list[Path], copies: int = 1) -> Path:
    """Copy the files (relative layout kept) `copies` times into sibling folders under dest."""
    root = Path(sysconfig.get_paths()["stdlib"])
    stamp = dest / ".built"
    want = f"{len(files)} {copies} {sys.version}"
    if stamp.exists() and stamp.read_text() == want:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    for i in range(copies):
        base = dest / (f"copy{i}" if copies > 1 else "stdlib")
        for f in files:
            target = base / f.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
    stamp.write_text(want)
    return dest


# The agent-SDK corpus: openhands-sdk, -tools and -agent-server of one release together (they
# import each other), plus two other agent SDKs; pinned in benchmarks/corpus.py.
AGENT_SDK = ["openhands-sdk@1.58.2", "openhands-tools@1.58.2", "openhands-agent-server@1.58.2",
             "openai-agents@0.24.0", "pydantic-ai-slim@2.78.0"]


def build_agent_sdk_corpus(cache_dir: Path | None) -> tuple[Path, int, str] | None:
    """Copy the .py files of the AGENT_SDK releases into benchmarks/.work/agent-sdk/<release>/
    (a copy: the "one file edited" row edits a file). None when a release cannot be fetched."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import corpus as pinned

    releases = pinned.fetch_all(pinned.select(AGENT_SDK), cache_dir)
    if not all(r.ok for r in releases):
        return None
    dest = WORK / "agent-sdk"
    want = " ".join(AGENT_SDK)
    stamp = dest / ".built"
    if not (stamp.exists() and stamp.read_text() == want):
        shutil.rmtree(dest, ignore_errors=True)
        for r in releases:
            base = dest / f"{r.entry.name}-{r.entry.version}"
            for f in sorted(r.root.rglob("*.py")):
                target = base / f.relative_to(r.root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, target)
        stamp.write_text(want)
    mark_repository(dest)
    n = sum(1 for _ in dest.rglob("*.py"))
    label = "agent SDKs: " + ", ".join(f"{r.entry.name} {r.entry.version}" for r in releases)
    return dest, n, label


def mark_repository(dest: Path) -> None:
    """An empty `.git` makes the corpus its own repository: this checkout's .gitignore (which
    ignores benchmarks/.work/) must not hide it from tools that honour .gitignore (fixit).
    Its own (empty) settings table makes it its own project too: default settings, and the
    cache inside the corpus, not this checkout's."""
    (dest / ".git").mkdir(exist_ok=True)
    (dest / "pyproject.toml").write_text("[tool.llm-affinity-lint]\n")


def tools_venv(name: str, packages: list[str]) -> Path | None:
    venv = WORK / name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.exists() and marker.read_text() == " ".join(packages):
        return python
    try:
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True,
                       capture_output=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"  could not install {packages}: {exc}", file=sys.stderr)
        return None
    marker.write_text(" ".join(packages))
    return python


# ---------------------------------------------------------------------------- runs
def lint_cmd(*extra: str) -> list[str]:
    script = Path(PYTHON).parent / "llm-affinity-lint"
    launcher = [str(script)] if script.exists() else [PYTHON, SCRIPT, "--lint"]
    # An explicit cache folder in the corpus: the one `clean_cache` empties for the cold rows,
    # wherever the settings discovery would otherwise put it.
    return [*launcher, "check", ".", "-q", "--exit-zero", "--cache-dir", CACHE_DIR, *extra]


CACHE_DIR = ".llm_affinity_lint_cache"


def clean_cache(cwd: Path) -> None:
    shutil.rmtree(cwd / CACHE_DIR, ignore_errors=True)


def findings(sample: Sample) -> int:
    return sum(1 for line in sample.stdout.splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--repeat", type=int, default=3, help="runs per fast row (median)")
    parser.add_argument("--sample", type=int, default=1, metavar="K",
                        help="use every K-th stdlib file (quicker, less faithful)")
    parser.add_argument("--skip", default="", help=f"comma list of rows to skip: {','.join(SKIPPABLE)}")
    parser.add_argument("--quick", action="store_true", help="--sample 8 --skip fixit,scale")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--corpus", choices=("stdlib", "agent-sdk", "both"), default="stdlib",
                        help="stdlib (default), agent-sdk (downloaded releases, see AGENT_SDK), or both")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="download cache of the agent-SDK releases (benchmarks/corpus.py)")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.quick:
        args.sample = max(args.sample, 8)
        skip |= {"fixit", "scale"}
    repeat = max(1, args.repeat)

    WORK.mkdir(parents=True, exist_ok=True)
    tables: list[str] = []
    if args.corpus in ("stdlib", "both"):
        files = stdlib_files()[:: args.sample]
        print(f"corpus: {len(files)} files from {sysconfig.get_paths()['stdlib']}", file=sys.stderr)
        corpus = build_corpus(WORK / f"corpus-{args.sample}", files) / "stdlib"
        mark_repository(corpus.parent)
        label = "standard library" + ("" if args.sample == 1 else f", every {args.sample}th file")
        rows = bench(corpus, len(files), skip, repeat, args,
                     lambda: build_corpus(WORK / f"corpus-{args.sample}-x10", files, copies=10))
        tables.append(render(rows, len(files), repeat, args, label))
    if args.corpus in ("agent-sdk", "both"):
        built = build_agent_sdk_corpus(args.cache_dir)
        if built is None:
            print("error: the agent-SDK corpus could not be downloaded (see above)", file=sys.stderr)
            return 2
        corpus, n_files, label = built
        print(f"corpus: {n_files} files, {label}", file=sys.stderr)
        rows = bench(corpus, n_files, skip | {"scale"}, repeat, args, None)
        tables.append(render(rows, n_files, repeat, args, label))
    table = "\n".join(tables)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    return 0


def bench(corpus: Path, n_files: int, skip: set[str], repeat: int, args, build_x10) -> dict[str, Row]:
    """Every row on one corpus folder (its own repository); `build_x10` makes the x10 copy."""
    built_at = time.time()
    rows: dict[str, Row] = {}

    def row(key: str, name: str) -> Row:
        rows[key] = Row(name)
        return rows[key]

    def progress(msg: str) -> None:
        print(f"  {msg}", file=sys.stderr, flush=True)

    # P: the libcst parse of every file, one process.
    if "p" not in skip:
        progress("P (libcst parse, one process)")
        r = row("p", "P: libcst.parse_module, every file, 1 process")
        r.samples.append(measure([PYTHON, SCRIPT, "--parse-all", str(corpus)], corpus))
        if r.samples[-1].returncode != 0:  # every ratio is taken against P: stop, never divide by a crash
            sys.exit(f"benchmarks/run.py: the P run failed (exit {r.samples[-1].returncode})")
        r.note = r.samples[-1].stdout.strip().replace(" ", " files, parsed: ")

    # A file copied in the last RACY_NS is (rightly) hashed rather than trusted by stat.
    time.sleep(max(0.0, built_at + RACY_S - time.time()))

    progress("llm-affinity-lint cold (empty cache)")
    cold = row("cold", "llm-affinity-lint check, cold (empty cache)")
    for _ in range(repeat):
        clean_cache(corpus)
        cold.samples.append(measure(lint_cmd(), corpus))
    if "nocache" not in skip:
        progress("llm-affinity-lint --no-cache")
        r = row("nocache", "llm-affinity-lint check --no-cache")
        for _ in range(repeat):
            r.samples.append(measure(lint_cmd("--no-cache"), corpus))
    progress("llm-affinity-lint warm")
    measure(lint_cmd(), corpus)  # settle: entries written by the cold run are now trusted by stat
    warm = row("warm", "llm-affinity-lint check, warm (nothing changed)")
    for _ in range(repeat):
        warm.samples.append(measure(lint_cmd(), corpus))
    progress("llm-affinity-lint touched one file")
    touched = row("touched", "llm-affinity-lint check, warm, one file edited")
    # One file alone says little (one with many dependents, or with syntax newer than this
    # Python, costs several times the typical edit): EDITED files spread over the corpus, each
    # edited, checked (measured), restored and checked again (not measured), every repeat.
    victims = edit_victims(sorted(corpus.rglob("*.py")))
    for i in range(repeat):
        for victim in victims:
            original = victim.read_bytes()
            try:
                victim.write_bytes(original + f"\n# benchmark edit {i} {time.time()}\n".encode())
                touched.samples.append(measure(lint_cmd(), corpus))
            finally:
                victim.write_bytes(original)
            measure(lint_cmd(), corpus)  # back to warm
            time.sleep(RACY_S)  # a developer's next edit comes later than the cache's racy window
    touched.note = f"median of {len(touched.samples)}: {len(victims)} files x {repeat}"
    counts = {k: findings(rows[k].samples[-1]) for k in ("cold", "nocache", "warm") if k in rows}
    if len(set(counts.values())) > 1:
        print(f"WARNING: finding counts differ between runs: {counts}", file=sys.stderr)
    cold.note = f"{counts['cold']} findings; peak {cold.peak_mb:.0f} MB"

    if "flake8" not in skip or "fixit" not in skip:
        progress("installing flake8 / fixit (once)")
    if "flake8" not in skip:
        py = tools_venv("venv-flake8", ["flake8", "fixit"] if "fixit" not in skip else ["flake8"])
        if py is not None:
            progress("flake8 (default checks)")
            r = row("flake8", "flake8 (default checks, all cores)")
            for _ in range(repeat):
                r.samples.append(measure([str(py.parent / "flake8"), "--exit-zero", "."], corpus, PLAIN_ENV))
            r.note = f"{findings(r.samples[-1])} findings"
    if "fixit" not in skip:
        py = tools_venv("venv-flake8", ["flake8", "fixit"])
        if py is not None:
            progress("fixit lint (default rules), once")
            r = row("fixit", "fixit lint (default rules)")
            # Stopped once it has taken FIXIT_LIMIT times our cold run: that settles the target
            # (>= 20x) without waiting the better part of an hour.
            limit = max(60.0, FIXIT_LIMIT * cold.median)
            # fixit puts its working directory on sys.path: run it from above the corpus.
            r.samples.append(measure([str(py.parent / "fixit"), "lint", corpus.name], corpus.parent,
                                     timeout=limit))
            last = r.samples[-1]
            r.note = (f"stopped after {limit:.0f} s = {FIXIT_LIMIT}x our cold run" if last.timed_out
                      else f"exit {last.returncode}; "
                      + (last.stdout.strip().splitlines() or [""])[-1][:80])
    if "ruff" not in skip:
        r = row("ruff", "ruff check --select ALL (all cores)")
        ruff = shutil.which("ruff") or (str(Path(PYTHON).parent / "ruff")
                                        if (Path(PYTHON).parent / "ruff").exists() else None)
        if ruff is None:
            r.note = "ruff is not installed"
        else:
            progress("ruff --select ALL")
            for _ in range(repeat):
                r.samples.append(measure([ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero",
                                          "--output-format", "concise", "-q", "."], corpus, PLAIN_ENV))
            r.note = f"{findings(r.samples[-1])} findings"
    if "plugin" not in skip:
        r = row("plugin", "flake8 + llm-affinity-lint plugin")
        if not (REPO / "lint_rules" / "flake8_plugin.py").exists():
            r.note = "pending: lint_rules/flake8_plugin.py is not on this branch"
        else:
            py = tools_venv("venv-plugin", ["flake8", str(REPO)])
            if py is not None:
                progress("flake8 + plugin")
                for _ in range(repeat):
                    r.samples.append(measure([str(py.parent / "flake8"), "--exit-zero", "."], corpus, PLAIN_ENV))
                r.note = f"{findings(r.samples[-1])} findings"
                # the plugin venv holds a copy of the package: reinstall when the code changes
                (WORK / "venv-plugin" / ".installed").unlink(missing_ok=True)

    if "scale" not in skip:
        progress("corpus x10, cold, once")
        big = build_x10()
        mark_repository(big)
        time.sleep(2.5)
        clean_cache(big)
        r = row("scale", "llm-affinity-lint check, cold, corpus x10")
        r.samples.append(measure(lint_cmd(), big))
        r.note = f"{findings(r.samples[-1])} findings; peak {r.peak_mb:.0f} MB"
        clean_cache(big)

    return rows


def render(rows: dict[str, Row], n_files: int, repeat: int, args, label: str = "standard library") -> str:
    p = rows.get("p")
    P = p.median if p else None
    cold = rows["cold"].median

    def ratio_p(key: str, limit: float) -> tuple[str, bool | None]:
        r = rows.get(key)
        if not r or r.median is None or not P:
            return "", None
        return f"{r.median / P:.3f} P (target <= {limit} P)", r.median / P <= limit

    checks: dict[str, tuple[str, bool | None]] = {
        "cold": ratio_p("cold", 0.15),
        "nocache": ratio_p("nocache", 0.15),
        "warm": ratio_p("warm", 0.02),
        "touched": ratio_p("touched", 0.03),
    }
    if rows.get("fixit") and rows["fixit"].median:
        x = rows["fixit"].median / cold
        more = ">" if rows["fixit"].samples[-1].timed_out else ""
        checks["fixit"] = (f"{more}{x:.1f}x our cold (target >= 20x)", x >= 20)
    if rows.get("flake8") and rows["flake8"].median:
        x = rows["flake8"].median / cold
        checks["flake8"] = (f"{x:.2f}x our cold (target > 1x)", x > 1)
    if rows.get("ruff") and rows["ruff"].median:
        checks["ruff"] = (f"{rows['ruff'].median / cold:.2f}x our cold", None)
    if rows.get("plugin") and rows["plugin"].median and rows.get("flake8") and rows["flake8"].median:
        x = rows["plugin"].median / rows["flake8"].median - 1
        checks["plugin"] = (f"{x * 100:+.1f}% vs flake8 (target <= +15%)", x <= 0.15)
    if rows.get("scale") and rows["scale"].median:
        x = rows["scale"].median / cold
        checks["scale"] = (f"{x:.1f}x our cold (target <= ~10x)", x <= 11)
    peak = max((rows[k].peak_mb or 0) for k in ("cold", "nocache", "warm", "touched", "scale")
               if k in rows)
    lines = [
        f"Corpus: {n_files} files ({label}), "
        f"Python {platform.python_version()}, {os.cpu_count()} cores "
        f"({_cpu_model()}). Medians of {repeat} runs (P, fixit and x10: one run).",
        "",
        "| run | median s | ratio | meets target | note |",
        "| --- | ---: | --- | :---: | --- |",
    ]
    for key, r in rows.items():
        text, ok = checks.get(key, ("", None))
        if key == "p":
            text = "1 P"
        median = f"{r.median:.2f}" if r.median is not None else "-"
        if r.samples and r.samples[-1].timed_out:
            median = f"> {median}"
        mark = "" if ok is None else ("yes" if ok else "**no**")
        lines.append(f"| {r.name} | {median} | {text} | {mark} | {r.note} |")
    lines.append(f"| peak memory (PSS, process tree), our runs incl. x10 | {peak:.0f} MB | target <= 300 MB | "
                 f"{'yes' if peak <= 300 else '**no**'} | |")
    return "\n".join(lines) + "\n"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--parse-all"]:
        parse_all(sys.argv[2])
    elif sys.argv[1:2] == ["--lint"]:
        from lint_rules.cli import main as lint_main

        sys.exit(lint_main(sys.argv[2:]))
    else:
        sys.exit(main())
