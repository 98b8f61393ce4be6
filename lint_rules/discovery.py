"""Which files a check reads: the given paths, walked the way ruff walks them.

* Directories are walked depth-first with `os.scandir`, entries sorted by name; files ending in
  `.py` or `.pyi` are yielded. A path given explicitly is yielded whatever its suffix, unless
  `force-exclude` is set and an exclusion matches it (then it is skipped silently).
* `exclude` + `extend-exclude` are gitignore-style patterns. A pattern without a slash matches
  the name of any file or folder at any depth (`build`, `*_pb2.py`, `gen/` for folders only);
  a pattern with a slash is anchored to the project root (or to the working directory when
  there is no project root), e.g. `tests/fixtures/*`; `./x` and absolute paths under the project root
  are anchored too. Outside the project root only the patterns without a slash apply. A path
  is excluded when a pattern of either kind excludes it (`!` re-includes only within a kind).
  Excluded folders are not entered.
* With `respect-gitignore`, every `.gitignore` from the repository root (the closest folder
  above the path holding `.git`) down to each folder applies, deeper files winning, plus
  `.git/info/exclude`. A folder holding its own `.git` starts a new repository. Outside a
  repository the `.gitignore` files from the project root (or the walked path) down apply.
  The global git configuration is never read and git is never run.
* Like ruff, the walk never checks the explicitly given paths themselves: `check build/` lints
  `build/` although `build` is excluded by default; only its contents are checked against the
  exclusions (a pattern without a slash still excludes a nested `build/sub/build`).
  `force-exclude` makes the given paths subject to the exclusions (and, with
  `respect-gitignore`, to the ignore files) too.
* Symbolic links: links to files are followed. A link to a folder is followed unless it points
  to a folder of the same walked tree (that folder is listed, or excluded, under its real path)
  or to one of its own ancestors (reported as `symlink loop`). Visited folders are tracked by
  `(st_dev, st_ino)`, so the walk always ends. A dangling link named like a source file (or
  given explicitly) is reported as `broken symlink`; other dangling links are skipped quietly.
* FIFOs, sockets and devices are never opened: inside folders they are skipped, given
  explicitly they are reported (`not a regular file (FIFO)`).
* Nothing is yielded twice (files are identified by device and inode) and the order is
  deterministic: the given paths in order, sorted by name within each folder.

Speed: per file the walk costs what `scandir` gives for free (name, type, inode); folders cost
one `lstat` each. Compiled ignore files are cached per folder.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from lint_rules.core.config import Config

SOURCE_SUFFIXES = (".py", ".pyi")


@dataclass(frozen=True)
class SourceFile:
    """A file to lint. `path` is as given (or joined onto what was given), never resolved."""

    path: Path
    display: str  # relative to the working directory when under it, else as given


@dataclass(frozen=True)
class DiscoveryError:
    """A path that could not be looked at; `message` is one line, e.g. "permission denied"."""

    path: Path
    display: str
    message: str


def is_excluded(path: Path, config: Config, *, project_root: Path | None = None) -> bool:
    """Whether `force-exclude` would skip this path if it were given explicitly (for
    `--stdin-filename`, whose path need not exist)."""
    walker = _Walker(config, project_root)
    return walker._force_excluded(os.path.abspath(os.fspath(path)), os.path.isdir(path))


def walker(config: Config, *, project_root: Path | None = None) -> _Walker:
    """A reusable walker: `.visit(path)` yields what `iter_source_files` yields for one path
    (files seen by an earlier visit are not yielded again); `.excluded(path)` is `is_excluded`."""
    return _Walker(config, project_root)


def iter_source_files(
    paths: list[Path], config: Config, *, project_root: Path | None = None
) -> Iterator[SourceFile | DiscoveryError]:
    """Yield the files to lint under `paths`, and an error for every path that cannot be read."""
    walker = _Walker(config, project_root)
    for path in paths:
        yield from walker.visit(path)


# ---------------------------------------------------------------------------- patterns

_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


class _Spec:
    """Gitignore-style patterns (pathspec's `GitIgnoreSpec`) answering three ways.

    `check(rel)` gets a `/`-separated path relative to the patterns' base folder, with a
    trailing `/` for folders: True when the last matching pattern ignores it, False when it
    re-includes it (`!pattern`), None when no pattern matches. As with pathspec, a path inside
    a matched folder counts as matched (the walk never enters an ignored folder anyway).
    """

    __slots__ = ("_lines", "_spec", "_prefilter")

    def __init__(self, lines: list[tuple[str, pathspec.Pattern]]) -> None:
        self._lines = lines
        patterns = [pattern for _, pattern in lines]
        self._spec = pathspec.GitIgnoreSpec(patterns)
        self._prefilter = _combine(patterns)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> _Spec | None:
        """Compile the lines; a line git would not understand is dropped, as git drops it."""
        compiled = []
        for line in lines:
            try:
                patterns = pathspec.GitIgnoreSpec.from_lines([line]).patterns
            except Exception:  # noqa: BLE001 - pathspec's error types differ between versions
                continue
            compiled.extend((line, p) for p in patterns if p.include is not None)
        return cls(compiled) if compiled else None

    def check(self, rel: str) -> bool | None:
        # One C-level regex call answers "no pattern matches" for the vast majority of paths.
        if self._prefilter is not None and self._prefilter.search(rel) is None:
            return None
        return self._spec.check_file(rel).include

    def split(self, rel_dir: str | None) -> tuple[_Spec | None, _Spec | None]:
        """(patterns matching at any depth, anchored patterns), for a walk of a given folder.

        The first kind can be checked against paths relative to the walked folder. From the
        anchored kind, those that ignore `rel_dir` (the walked folder, relative to the base)
        are dropped: a folder given explicitly is walked (ruff does the same).
        """
        floating = [(line, p) for line, p in self._lines if not _is_anchored(line)]
        anchored = [
            (line, p) for line, p in self._lines
            if _is_anchored(line)
            and not (rel_dir and p.include and p.match_file(rel_dir) is not None)
        ]
        return (_Spec(floating) if floating else None), (_Spec(anchored) if anchored else None)


_FLOATING = "^(?:.+/)?"  # how pathspec starts a pattern that matches at any depth


def _combine(patterns: list[pathspec.Pattern]) -> re.Pattern[str] | None:
    """One regex that matches (at least) whatever any of the patterns matches, or None.

    Only a prefilter: `search` finds whatever `match` or `search` would find with any one
    pattern. Patterns that match at any depth share one `^(?:.+/)?` so the engine backtracks
    over the folders once, not once per pattern.
    """
    floating: list[str] = []
    other: list[str] = []
    seen: set[str] = set()
    flags = None
    for pattern in patterns:
        regex = getattr(pattern, "regex", None)
        if regex is None or not isinstance(regex.pattern, str):
            return None
        if flags is None:
            flags = regex.flags
        elif regex.flags != flags:
            return None
        source = _NAMED_GROUP.sub("(?:", regex.pattern)
        if source in seen:
            continue
        seen.add(source)
        if source.startswith(_FLOATING):
            floating.append("(?:" + source[len(_FLOATING):] + ")")
        else:
            other.append("(?:" + source + ")")
    parts = other
    if floating:
        parts = [_FLOATING + "(?:" + "|".join(floating) + ")", *other]
    if not parts:
        return None
    try:
        return re.compile("|".join(parts), flags or 0)
    except re.error:
        return None


def _is_anchored(line: str) -> bool:
    """Whether a gitignore line is tied to its base folder (it has a slash before its end)."""
    body = line.strip()
    if body.startswith("!"):
        body = body[1:]
    body = body.rstrip("/")
    if body.startswith("**/"):
        body = body[3:]
    return "/" in body


def _exclude_lines(config: Config, project_root: str | None) -> list[str]:
    lines = []
    for pattern in (*config.exclude, *config.extend_exclude):
        if pattern.startswith("./"):
            pattern = "/" + pattern[2:]
        elif project_root is not None and os.path.isabs(pattern):
            rel = _relative(os.path.normpath(pattern), project_root)
            if rel:
                pattern = "/" + rel
        lines.append(pattern)
    return lines


# ---------------------------------------------------------------------------- paths


def _relative(path: str, base: str) -> str | None:
    """`path` relative to `base` with `/` separators ("" when equal), None when not under it.

    Both are absolute and normalised. Compared as written first, then with links resolved.
    """
    for p, b in ((path, base), (os.path.realpath(path), os.path.realpath(base))):
        if p == b:
            return ""
        prefix = b if b.endswith(os.sep) else b + os.sep
        if p.startswith(prefix):
            rel = p[len(prefix):]
            return rel.replace(os.sep, "/") if os.sep != "/" else rel
    return None


def _is_within(path: str, base: str) -> bool:
    return path == base or path.startswith(base if base.endswith(os.sep) else base + os.sep)


def _describe(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    text = exc.strerror or str(exc) or type(exc).__name__
    return " ".join(text.split()).lower()


def _dir_failure(exc: OSError) -> str:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return "vanished during the run"
    return _describe(exc)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "special file"


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


# ---------------------------------------------------------------------------- the walk

# An ignore chain: (spec, prefix) pairs, outermost first. `prefix` is the current folder
# relative to the spec's base folder, `/`-terminated ("" at the base itself).
_Chain = tuple[tuple[_Spec, str], ...]


class _Frame:
    """A folder being walked."""

    __slots__ = ("entries", "index", "path", "disp", "abs", "dev", "key", "chain", "rel", "excl")

    def __init__(
        self, entries: list[os.DirEntry[str]], path: str, disp: str, abs_: str, dev: int,
        key: tuple[int, int], chain: _Chain, rel: str, excl: str,
    ) -> None:
        self.entries = entries
        self.index = 0
        self.path = path  # prefix of the children's paths: "" or ends with a separator
        self.disp = disp  # same for their display
        self.abs = abs_
        self.dev = dev
        self.key = key
        self.chain = chain
        self.rel = rel  # relative to the walked root, "/"-terminated or ""
        self.excl = excl  # relative to the anchor of the exclusions, same form


class _Walker:
    def __init__(self, config: Config, project_root: Path | None) -> None:
        self.force_exclude = config.force_exclude
        self.respect_gitignore = config.respect_gitignore
        self.cwd = os.getcwd()
        self.project_root = os.path.abspath(project_root) if project_root is not None else None
        self.exclude = _Spec.from_lines(_exclude_lines(config, self.project_root or self.cwd))
        self.exclude_floating = self.exclude.split(None)[0] if self.exclude is not None else None
        self.seen_files: set[tuple[int, int]] = set()
        self.seen_dirs: set[tuple[int, int]] = set()
        self.errors: list[DiscoveryError] = []  # from reading ignore files, yielded when found
        self._ignore_files: dict[str, _Spec | None] = {}
        self._repos: dict[str, str | None] = {}
        self._dir_keys: dict[str, tuple[int, int] | None] = {}

    # ------------------------------------------------------------------ helpers
    def _display(self, given: str, absolute: str) -> str:
        if absolute == self.cwd:
            return os.curdir
        prefix = self.cwd if self.cwd.endswith(os.sep) else self.cwd + os.sep
        return absolute[len(prefix):] if absolute.startswith(prefix) else given

    def _flush(self) -> Iterator[DiscoveryError]:
        while self.errors:
            yield self.errors.pop(0)

    def _load(self, file: str) -> _Spec | None:
        if file in self._ignore_files:
            return self._ignore_files[file]
        spec = None
        try:
            with open(file, encoding="utf-8-sig", errors="surrogateescape") as fh:
                spec = _Spec.from_lines(fh.read().splitlines())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            pass
        except OSError as exc:
            self.errors.append(DiscoveryError(
                Path(file), self._display(file, file),
                f"{_describe(exc)} (its patterns are not applied)",
            ))
        self._ignore_files[file] = spec
        return spec

    def _gitignore(self, folder: str) -> _Spec | None:
        return self._load(os.path.join(folder, ".gitignore"))

    def _info_exclude(self, repo: str) -> _Spec | None:
        git = os.path.join(repo, ".git")
        git_dir = git
        if not os.path.isdir(git):  # a worktree or submodule: `.git` is a file naming the git dir
            try:
                with open(git, encoding="utf-8") as fh:
                    first = fh.readline().strip()
            except OSError:
                return None
            if not first.startswith("gitdir:"):
                return None
            git_dir = os.path.normpath(os.path.join(repo, first[len("gitdir:"):].strip()))
            try:
                with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as fh:
                    git_dir = os.path.normpath(os.path.join(git_dir, fh.readline().strip()))
            except OSError:
                pass
        return self._load(os.path.join(git_dir, "info", "exclude"))

    def _find_repo(self, folder: str) -> str | None:
        """The closest folder at or above `folder` holding `.git`."""
        walked = []
        found = None
        current = folder
        while True:
            if current in self._repos:
                found = self._repos[current]
                break
            walked.append(current)
            if os.path.lexists(os.path.join(current, ".git")):
                found = current
                break
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        for each in walked:
            self._repos[each] = found
        return found

    def _ancestor_keys(self, real: str) -> set[tuple[int, int]]:
        keys = set()
        current = real
        while True:
            parent = os.path.dirname(current)
            if parent == current:
                return keys
            current = parent
            if current not in self._dir_keys:
                try:
                    st = os.stat(current)
                    self._dir_keys[current] = (st.st_dev, st.st_ino)
                except OSError:
                    self._dir_keys[current] = None
            key = self._dir_keys[current]
            if key is not None:
                keys.add(key)

    # ------------------------------------------------------------------ exclusions
    def _anchored_exclusion(self, root: str) -> tuple[_Spec | None, str]:
        """The anchored exclusions for a walk of `root`, and `root` relative to their anchor."""
        if self.exclude is None:
            return None, ""
        # Anchored to the project root, or to the working directory without one (ruff's rule):
        # `check src --extend-exclude src/gen/*` excludes `src/gen` whatever PATH is given.
        anchor = self.project_root if self.project_root is not None else self.cwd
        rel = _relative(root, anchor)
        if rel is None:  # outside the project: only patterns without a slash apply
            return None, ""
        prefix = rel + "/" if rel else ""
        return self.exclude.split(prefix)[1], prefix

    def _gitignore_for_root(self, root: str) -> _Chain:
        """The ignore files above `root` that apply inside it (its own is read by the walk)."""
        top = self._find_repo(root)
        specs: list[tuple[_Spec, str]] = []
        if top is None:
            if self.project_root is None or not _relative(root, self.project_root):
                return ()
            top = self.project_root
        elif top == root:
            return ()
        else:
            info = self._info_exclude(top)
            if info is not None:
                specs.append((info, top))
        rel = _relative(root, top) or ""
        folder = top
        for part in ["", *rel.split("/")[:-1]]:
            folder = os.path.join(folder, part) if part else folder
            spec = self._gitignore(folder)
            if spec is not None:
                specs.append((spec, folder))
        chain: list[tuple[_Spec, str]] = []
        for spec, base in specs:
            prefix = (_relative(root, base) or "") + "/"
            if not spec.check(prefix):
                chain.append((spec, prefix))
                continue
            # The root is ignored, yet given explicitly: walk it. Patterns that match at any
            # depth go on applying below it; anchored ones that ignore it are dropped.
            floating, anchored = spec.split(prefix)
            if anchored is not None:
                chain.append((anchored, prefix))
            if floating is not None:
                chain.append((floating, ""))
        return tuple(chain)

    def excluded(self, path: Path | str) -> bool:
        return self._force_excluded(os.path.abspath(os.fspath(path)), os.path.isdir(path))

    def _force_excluded(self, path: str, is_dir: bool) -> bool:
        """Whether an explicitly given path matches an exclusion (for `force-exclude`)."""
        slash = "/" if is_dir else ""
        anchor = self.project_root if self.project_root is not None else self.cwd
        rel = _relative(path, anchor)
        if rel is None:
            floating = self.exclude_floating
            if floating is not None and floating.check(os.path.basename(path) + slash):
                return True
        elif rel and self.exclude is not None and self.exclude.check(rel + slash):
            return True
        if not self.respect_gitignore:
            return False
        parent = os.path.dirname(path)
        top = self._find_repo(parent)
        specs: list[tuple[_Spec, str]] = []
        if top is None:
            in_project = self.project_root is not None and _relative(path, self.project_root)
            top = self.project_root if in_project else parent
        else:
            info = self._info_exclude(top)
            if info is not None:
                specs.append((info, top))
        rel = _relative(path, top)
        if not rel:
            return False
        parts = rel.split("/")
        folder = top
        for i, part in enumerate(parts):  # git's order: an ignored folder hides what it holds
            spec = self._gitignore(folder)
            if spec is not None:
                specs.append((spec, folder))
            child = os.path.join(folder, part)
            tail = "/" if is_dir or i < len(parts) - 1 else ""
            for spec, base in reversed(specs):
                verdict = spec.check((_relative(child, base) or "") + tail)
                if verdict is not None:
                    if verdict:
                        return True
                    break
            folder = child
        return False

    # ------------------------------------------------------------------ visiting
    def visit(self, given: Path) -> Iterator[SourceFile | DiscoveryError]:
        path = given if isinstance(given, Path) else Path(given)
        text = os.fspath(given)
        absolute = os.path.abspath(text)
        display = self._display(text, absolute)
        try:
            st = os.stat(text)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) and os.path.lexists(text):
                message = "broken symlink"
            else:
                message = _describe(exc)
            if not (self.force_exclude and self._force_excluded(absolute, False)):
                yield DiscoveryError(path, display, message)
            yield from self._flush()
            return
        is_dir = stat.S_ISDIR(st.st_mode)
        skip = self.force_exclude and self._force_excluded(absolute, is_dir)
        yield from self._flush()
        if skip:
            return
        if is_dir:
            yield from self._walk(text, absolute, display, st)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key not in self.seen_files:
                self.seen_files.add(key)
                yield SourceFile(path, display)
        else:
            yield DiscoveryError(path, display, f"not a regular file ({_kind(st.st_mode)})")

    def _open(
        self, path: str, disp: str, abs_: str, dev: int, key: tuple[int, int],
        chain: _Chain, rel: str, excl: str,
    ) -> _Frame | DiscoveryError:
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError as exc:
            return DiscoveryError(Path(path), disp, _dir_failure(exc))
        entries.sort(key=_entry_name)
        if self.respect_gitignore:
            has_git = has_ignore = False
            for entry in entries:
                if entry.name == ".git":
                    has_git = True
                elif entry.name == ".gitignore":
                    has_ignore = True
            if has_git:  # a repository root: what lies above it no longer applies
                info = self._info_exclude(abs_)
                chain = () if info is None else ((info, ""),)
            if has_ignore:
                spec = self._gitignore(abs_)
                if spec is not None:
                    chain = (*chain, (spec, ""))
        child_path = "" if path == os.curdir else (path if path.endswith(os.sep) else path + os.sep)
        child_disp = "" if disp == os.curdir else (disp if disp.endswith(os.sep) else disp + os.sep)
        return _Frame(entries, child_path, child_disp, abs_, dev, key, chain, rel, excl)

    def _walk(
        self, path: str, absolute: str, display: str, st: os.stat_result
    ) -> Iterator[SourceFile | DiscoveryError]:
        key = (st.st_dev, st.st_ino)
        if key in self.seen_dirs:
            return
        root_real = os.path.realpath(absolute)
        on_path = self._ancestor_keys(root_real)  # plus the folders being walked, below
        floating = self.exclude_floating  # checked against paths relative to the root
        anchored, excl = self._anchored_exclusion(absolute)
        chain = self._gitignore_for_root(absolute) if self.respect_gitignore else ()
        frame = self._open(path, display, absolute, st.st_dev, key, chain, "", excl)
        yield from self._flush()
        if isinstance(frame, DiscoveryError):
            yield frame
            return
        self.seen_dirs.add(key)
        on_path.add(key)
        stack = [frame]
        respect_gitignore = self.respect_gitignore
        seen_files = self.seen_files
        seen_dirs = self.seen_dirs

        def excluded(frame: _Frame, name: str, is_dir: bool) -> bool:
            slash = "/" if is_dir else ""
            if floating is not None and floating.check(frame.rel + name + slash):
                return True
            if anchored is not None and anchored.check(frame.excl + name + slash):
                return True
            for spec, prefix in reversed(frame.chain):  # the deepest ignore file decides
                verdict = spec.check(prefix + name + slash)
                if verdict is not None:
                    return verdict
            return False

        while stack:
            frame = stack[-1]
            if frame.index >= len(frame.entries):
                stack.pop()
                on_path.discard(frame.key)
                continue
            entry = frame.entries[frame.index]
            frame.index += 1
            name = entry.name
            try:
                is_link = entry.is_symlink()
                if is_link:
                    try:
                        target = entry.stat()
                    except OSError as exc:
                        if name.endswith(SOURCE_SUFFIXES) and not excluded(frame, name, False):
                            broken = isinstance(exc, FileNotFoundError)
                            yield DiscoveryError(
                                Path(frame.path + name), frame.disp + name,
                                "broken symlink" if broken else _describe(exc),
                            )
                        continue
                    is_dir = stat.S_ISDIR(target.st_mode)
                    is_file = stat.S_ISREG(target.st_mode)
                else:
                    target = None
                    is_dir = entry.is_dir(follow_symlinks=False)
                    is_file = not is_dir and entry.is_file(follow_symlinks=False)
            except OSError as exc:
                if name.endswith(SOURCE_SUFFIXES):
                    yield DiscoveryError(Path(frame.path + name), frame.disp + name, _describe(exc))
                continue

            if is_file:
                if not name.endswith(SOURCE_SUFFIXES) or excluded(frame, name, False):
                    continue
                if target is not None:
                    file_key = (target.st_dev, target.st_ino)
                else:
                    try:
                        file_key = (frame.dev, entry.inode())
                    except OSError:
                        continue  # vanished since the listing
                if file_key not in seen_files:
                    seen_files.add(file_key)
                    yield SourceFile(Path(frame.path + name), frame.disp + name)
                continue
            if not is_dir:
                continue  # FIFO, socket, device: never opened

            if respect_gitignore and name == ".git":
                continue
            if excluded(frame, name, True):
                continue
            child_path = frame.path + name
            child_abs = os.path.join(frame.abs, name)
            child_disp = self._display(child_path, child_abs)  # the walk may enter the cwd
            if target is None:
                try:
                    target = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    yield DiscoveryError(Path(child_path), child_disp, _dir_failure(exc))
                    continue
            child_key = (target.st_dev, target.st_ino)
            if child_key in on_path:
                message = "symlink loop" if is_link else "filesystem loop"
                yield DiscoveryError(Path(child_path), child_disp, message)
                continue
            if child_key in seen_dirs:
                continue
            if is_link and _is_within(os.path.realpath(child_abs), root_real):
                continue  # walked (or excluded) under its real path
            child = self._open(
                child_path, child_disp, child_abs, target.st_dev, child_key,
                tuple((spec, prefix + name + "/") for spec, prefix in frame.chain),
                frame.rel + name + "/", frame.excl + name + "/",
            )
            yield from self._flush()
            if isinstance(child, DiscoveryError):
                yield child
                continue
            seen_dirs.add(child_key)
            on_path.add(child_key)
            stack.append(child)
