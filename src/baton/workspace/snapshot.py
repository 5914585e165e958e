"""Snapshots: the reviewed tree fixed as a commit object, checked out disposably, compared.

What was reviewed is what lands. When the last packet is approved, :func:`freeze` writes
the worktree's files as a tree and a commit object that is on no branch. Verification
runs on :func:`disposable_checkout` of that tree: a folder outside the repository holding
exactly the tree's files, written by baton from git's objects (no index, no filters, no
attributes, no ``.git``), removed afterwards. :func:`drift` says what the commands added,
changed or deleted there; that is evidence, never part of the commit. On go the run's
branch is set to the snapshot commit itself.

Every git command here names its git directory explicitly and reads names with ``-z``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from baton.errors import UserError
from baton.workspace.discover import locate_repo, repo_at
from baton.workspace.git import (
    FileChange,
    Git,
    Worktree,
    identity_env,
    resolve_tree,
    tree_changes_in,
    tree_diff,
)

__all__ = ["Drifted", "Snapshot", "TreeEntry", "checkout_parent", "disposable_checkout",
           "drift", "drift_changes", "freeze", "read_tree", "snapshot_diff", "tree_changes",
           "write_checkout"]

_GITLINK = "160000"
_SYMLINK = "120000"
_EXECUTABLE = "100755"
_FORBIDDEN_NAMES = frozenset({".git", "git~1"})


@dataclass(frozen=True)
class Snapshot:
    """An immutable record of a tree: the commit object baton made for it, and the tree."""

    commit: str
    tree: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form (for the trace)."""
        return {"commit": self.commit, "tree": self.tree}


class TreeEntry(NamedTuple):
    """One file of a tree: mode (``100644``, ``100755``, ``120000``, ``160000``) and id."""

    mode: str
    oid: str


class Drifted(NamedTuple):
    """A file a command added (``A``), changed (``M``) or deleted (``D``) in a checkout."""

    status: Literal["A", "M", "D"]
    path: str


# --- freezing ----------------------------------------------------------------------------


def freeze(worktree: Worktree | Path, message: str = "baton snapshot", *,
           reuse: Snapshot | None = None) -> Snapshot:
    """Fix the current state of ``worktree`` as a tree and a commit object on no branch.

    ``worktree`` is a run's :class:`Worktree` (its own index is used; its parent commit is
    the run's base) or the path of a user's work tree (a temporary index is used, so the
    user's index is never touched; the parent is HEAD). Ignored files are left out, as
    ``git add -A`` leaves them out. ``reuse`` is a snapshot recorded earlier: when its tree
    is the same and its commit still exists, it is returned, so a replayed run lands the
    commit its trace names.
    """
    parent: str | None
    if isinstance(worktree, Worktree):
        git, parent = worktree.git, worktree.base_commit
        tree = worktree.tree()
    else:
        git, parent, tree = _freeze_user_tree(Path(worktree))
    if reuse is not None and reuse.tree == tree and commit_tree(git, reuse.commit) == tree:
        return reuse
    args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
    commit = git.run(*args, env=identity_env(git)).strip()
    return Snapshot(commit=commit, tree=tree)


def _freeze_user_tree(path: Path) -> tuple[Git, str | None, str]:
    repo = locate_repo(path)
    if repo is None:
        raise UserError(f"{path} is not inside a git repository")
    with tempfile.TemporaryDirectory(prefix="baton-index-") as scratch:
        index = Path(scratch) / "index"
        git = Git(repo.git_dir, repo.root, index_file=index)
        head = git.run("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
        try:  # the user's index as a starting point keeps git's stat cache (fast)
            shutil.copy2(repo.git_dir / "index", index)  # its time keeps racy-git checks
            git.run("add", "-A")
        except (OSError, UserError):
            index.unlink(missing_ok=True)
            if head:
                git.run("read-tree", head)
            git.run("add", "-A")
        tree = git.run("write-tree").strip()
    return Git(repo.git_dir, repo.root), head or None, tree


def commit_tree(git: Git, commit: str) -> str | None:
    """The tree of ``commit``, or None if there is no such commit."""
    try:
        return resolve_tree(git, commit)
    except UserError:
        return None


# --- reading trees -----------------------------------------------------------------------


def _plumbing(repo_root: Path) -> Git:
    return Git(repo_at(Path(repo_root)).common_dir)


def file_text(repo_root: Path, treeish: str, path: str, max_bytes: int = 2_000_000
              ) -> str | None:
    """The text of ``path`` in ``treeish`` (None: absent, not a file, or too large)."""
    git = _plumbing(repo_root)
    spec = f"{treeish}:{path}"
    kind = git.run("cat-file", "-t", spec, check=False).strip()
    if kind != "blob":
        return None
    size = git.run("cat-file", "-s", spec, check=False).strip()
    if not size.isdigit() or int(size) > max_bytes:
        return None
    return git.run("cat-file", "blob", spec)


def read_tree(repo_root: Path, treeish: str) -> dict[str, TreeEntry]:
    """Every file of a tree, recursively: exact path -> (mode, object id)."""
    git = _plumbing(repo_root)
    return _entries(git, resolve_tree(git, treeish))


def _entries(git: Git, tree: str, sizes: dict[str, int] | None = None
             ) -> dict[str, TreeEntry]:
    """Every file of ``tree``; with ``sizes``, also fills in each blob's size."""
    out = git.run_bytes("ls-tree", "-r", "-z", "--full-tree", "--long", tree)
    entries: dict[str, TreeEntry] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, _kind, oid, size = meta.decode().split()
        entries[os.fsdecode(name)] = TreeEntry(mode, oid)
        if sizes is not None and size.isdigit():
            sizes[oid] = int(size)
    return entries


def tree_changes(repo_root: Path, base: str, tree: str) -> list[FileChange]:
    """Per-file status (A/M/D) and line counts from ``base`` to ``tree``, exact names."""
    return tree_changes_in(_plumbing(repo_root), base, tree)


def snapshot_diff(repo_root: Path, base: str, tree: str) -> str:
    """The patch from ``base`` to ``tree`` (what ``patch.diff`` holds)."""
    return tree_diff(_plumbing(repo_root), base, tree)


# --- the disposable checkout -------------------------------------------------------------


@contextmanager
def disposable_checkout(repo_root: Path, treeish: str, *,
                        parent: Path | None = None, place: str = "temp",
                        entries_out: dict[str, TreeEntry] | None = None) -> Iterator[Path]:
    """A throwaway folder holding exactly the files of ``treeish``, with no ``.git``.

    The folder is made under ``parent`` if given, else where ``place`` says (see
    :func:`checkout_parent`: ``temp``, ``auto`` or a folder), outside the repository, so
    git run inside it cannot discover the repository either. Files are written byte for
    byte from git's objects: no filter, attribute or end-of-line conversion applies. The
    folder is removed afterwards, whatever was written into it. ``entries_out``, if given,
    receives the tree's files, for :func:`drift_changes` to compare with afterwards.
    """
    git = _plumbing(repo_root)
    tree = resolve_tree(git, treeish)
    sizes: dict[str, int] = {}
    entries = _entries(git, tree, sizes)
    if entries_out is not None:
        entries_out.update(entries)
    if parent is None:
        parent = checkout_parent(place, sum(sizes.values()), Path(repo_root))
    holder = Path(tempfile.mkdtemp(prefix="baton-verify-", dir=parent))
    root = holder / _folder_name(Path(repo_root).name)
    try:
        root.mkdir()
        _write_entries(git, tree, root, entries, sizes)
        yield root
    finally:
        remove_folder(holder)


MEMORY_FOLDER = Path("/dev/shm")
"""Where ``checkout_dir = "auto"`` puts a checkout when it is a memory-backed file system."""
MEMORY_MAX_TREE = 256 * 1024 * 1024
"""``auto`` puts a tree of at most this many bytes in memory ..."""
MEMORY_HEADROOM = 1024 * 1024 * 1024
"""... and only while that file system keeps this much free besides 4x the tree."""


def checkout_parent(place: str, tree_bytes: int, repo_root: Path) -> Path | None:
    """The folder a disposable checkout is made in (None: the system's temporary folder).

    ``temp``: the system's temporary folder. ``auto``: a memory-backed file system
    (``/dev/shm`` as tmpfs) when the tree is small beside its free space, since creating
    thousands of files there costs a fraction of a disk's time; else ``temp``. Any other
    value is a folder that must exist and lie outside the repository.
    """
    if place == "temp":
        return None
    if place == "auto":
        return MEMORY_FOLDER if _memory_has_room(tree_bytes) else None
    folder = Path(place).expanduser()
    if not folder.is_dir():
        raise UserError(f"checkout_dir {place!r} is not an existing folder; create it or "
                        "set checkout_dir to \"auto\" or \"temp\" in your user config")
    real, repo = Path(os.path.realpath(folder)), Path(os.path.realpath(repo_root))
    if real == repo or repo in real.parents:
        raise UserError(f"checkout_dir {place!r} lies inside the repository {repo}; "
                        "verification must run outside it. Choose a folder elsewhere")
    return folder


def _memory_has_room(tree_bytes: int) -> bool:
    if tree_bytes > MEMORY_MAX_TREE or not _is_tmpfs(MEMORY_FOLDER):
        return False
    try:
        if not os.access(MEMORY_FOLDER, os.W_OK | os.X_OK):
            return False
        fs = os.statvfs(MEMORY_FOLDER)
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize >= 4 * tree_bytes + MEMORY_HEADROOM


def _is_tmpfs(folder: Path) -> bool:
    """True if ``folder`` is itself the mount point of a tmpfs (read from /proc)."""
    try:
        mounts = Path("/proc/self/mounts").read_text()
    except OSError:
        return False
    target = os.path.realpath(folder)
    kind = None
    for line in mounts.splitlines():  # the last mount of a point is the one in effect
        fields = line.split()
        if len(fields) >= 3 and fields[1] == target:
            kind = fields[2]
    return kind == "tmpfs"


def _folder_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "checkout"


def write_checkout(git: Git, tree: str, root: Path) -> int:
    """Write every file of ``tree`` under the empty folder ``root``; returns the count."""
    sizes: dict[str, int] = {}
    return _write_entries(git, tree, root, _entries(git, tree, sizes), sizes)


def _write_entries(git: Git, tree: str, root: Path, entries: dict[str, TreeEntry],
                   sizes: dict[str, int]) -> int:
    made: set[str] = set()
    by_blob: dict[str, list[tuple[str, str]]] = {}
    for path, entry in entries.items():
        parts = path.split("/")
        for part in parts:
            if part in ("", ".", "..") or part.rstrip(". ").casefold() in _FORBIDDEN_NAMES:
                raise UserError(f"the tree {tree[:12]} holds an unsafe path {path!r}; "
                                "baton will not check it out")
        _make_dirs(root, parts[:-1], made)
        if entry.mode == _GITLINK:
            (root / path).mkdir()  # a submodule: an empty folder, as git checks it out
            made.add(path)
            continue
        by_blob.setdefault(entry.oid, []).append((path, entry.mode))
    if by_blob:
        _write_blobs(git, root, by_blob, sizes)
    return len(entries)


def _make_dirs(root: Path, parts: list[str], made: set[str]) -> None:
    for depth in range(1, len(parts) + 1):
        rel = "/".join(parts[:depth])
        if rel in made:
            continue
        target = root / rel
        try:
            os.mkdir(target)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(target).st_mode):
                raise UserError(f"the tree holds both a file and a folder {rel!r}") from None
        made.add(rel)


BATCH_BYTES = 32 * 1024 * 1024
"""Blob bytes read from git per ``cat-file --batch`` (one larger blob gets its own)."""


def _write_blobs(git: Git, root: Path, by_blob: dict[str, list[tuple[str, str]]],
                 sizes: dict[str, int]) -> None:
    """Read the blobs from ``git cat-file --batch`` in batches of about BATCH_BYTES and
    write each at its paths (no pipe ping-pong: each batch is one read of git's output)."""
    batch: list[str] = []
    held = 0
    for oid in by_blob:
        size = sizes.get(oid, 0)
        if batch and held + size > BATCH_BYTES:
            _write_batch(git, root, batch, by_blob)
            batch, held = [], 0
        batch.append(oid)
        held += size
    if batch:
        _write_batch(git, root, batch, by_blob)


def _write_batch(git: Git, root: Path, oids: list[str],
                 by_blob: dict[str, list[tuple[str, str]]]) -> None:
    raw = git.run_bytes("cat-file", "--batch",
                        input_bytes="".join(o + "\n" for o in oids).encode())
    out = memoryview(raw)
    top = os.fsencode(root)
    at = 0
    jobs: list[tuple[bytes, str, memoryview]] = []
    for oid in oids:
        end = raw.index(b"\n", at)
        header = raw[at:end].split()
        if len(header) != 3 or header[1] != b"blob":
            raise UserError(f"git could not read object {oid} "
                            f"({b' '.join(header).decode(errors='replace') or 'no output'})")
        start = end + 1
        at = start + int(header[2])
        data = out[start:at]
        at += 1  # the newline after the contents
        for path, mode in by_blob[oid]:
            jobs.append((top + b"/" + os.fsencode(path), mode, data))
    _write_files(jobs)


WRITERS = 4
"""Threads writing a checkout's files: creating a file is a system call that waits on the
file system with the GIL released, so a few writers in parallel halve a large checkout."""
_PARALLEL_FROM = 64


def _write_files(jobs: list[tuple[bytes, str, memoryview]]) -> None:
    if len(jobs) < _PARALLEL_FROM:
        for job in jobs:
            _write_file(*job)
        return
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="baton-checkout") as pool:
        # every writer's exception is raised here; the folder is removed by the caller
        for _ in pool.map(_write_some, [jobs[i::WRITERS] for i in range(WRITERS)]):
            pass


def _write_some(jobs: list[tuple[bytes, str, memoryview]]) -> None:
    for job in jobs:
        _write_file(*job)


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


def _write_file(target: bytes, mode: str, data: memoryview) -> None:
    if mode == _SYMLINK:
        os.symlink(bytes(data), target)
        return
    fd = os.open(target, _CREATE, 0o777 if mode == _EXECUTABLE else 0o666)
    try:
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def remove_folder(path: Path) -> None:
    """Remove a folder a command may have made hard to remove (read-only folders)."""
    def retry(func, failed, _exc):  # type: ignore[no-untyped-def]
        try:
            os.chmod(os.path.dirname(failed), 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
            func(failed)
        except OSError:
            pass

    if path.exists() or path.is_symlink():
        shutil.rmtree(path, onerror=retry)


# --- drift ---------------------------------------------------------------------------------


def drift_changes(checkout: Path, repo_root: Path, tree: str, *,
                  entries: dict[str, TreeEntry] | None = None) -> list[Drifted]:
    """Every file a command added, changed or deleted in ``checkout`` against ``tree``.

    Contents are hashed as git hashes blobs (a command cannot hide a change by keeping
    size and modification time); the executable bit and symlinks count; empty folders
    do not (git does not track them). ``entries`` are the tree's files when the caller
    already has them (from :func:`disposable_checkout`), else they are read from git.
    """
    if not entries:
        git = _plumbing(repo_root)
        entries = _entries(git, resolve_tree(git, tree))
    algo = "sha256" if any(len(e.oid) == 64 for e in entries.values()) else "sha1"
    gitlinks = {p for p, e in entries.items() if e.mode == _GITLINK}
    found: list[Drifted] = []
    seen: set[str] = set()
    top = str(checkout)
    for folder, dirs, files in os.walk(top):
        rel_folder = os.path.relpath(folder, top)
        prefix = "" if rel_folder == "." else rel_folder.replace(os.sep, "/") + "/"
        keep = []
        for name in dirs:
            rel = prefix + name
            full = os.path.join(folder, name)
            if os.path.islink(full):
                files.append(name)  # a symlink to a folder is a file to git
            elif rel in gitlinks:
                seen.add(rel)  # a submodule's folder: its content is not this tree's
            else:
                if rel in entries:
                    found.append(Drifted("D", rel))  # a file replaced by a folder
                    seen.add(rel)
                keep.append(name)
        dirs[:] = sorted(keep)
        for name in sorted(files):
            rel = prefix + name
            seen.add(rel)
            entry = entries.get(rel)
            now = _entry_of(os.path.join(folder, name), algo)
            if entry is None:
                found.append(Drifted("A", rel))
            elif now != entry:
                found.append(Drifted("M", rel))
    for rel in entries:
        if rel not in seen:
            found.append(Drifted("D", rel))
    return sorted(found, key=lambda d: (d.path, d.status))


def drift(checkout: Path, repo_root: Path, tree: str) -> list[str]:
    """The paths a command added, changed or deleted in ``checkout`` against ``tree``."""
    return [d.path for d in drift_changes(checkout, repo_root, tree)]


def _entry_of(path: str, algo: str) -> TreeEntry | None:
    """The (mode, blob id) git would record for the file at ``path``."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return TreeEntry(_SYMLINK, _blob_id(os.readlink(os.fsencode(path)), algo))
        if not stat.S_ISREG(st.st_mode):
            return TreeEntry("special", "")
        mode = _EXECUTABLE if st.st_mode & stat.S_IXUSR else "100644"
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            digest = hashlib.new(algo, b"blob %d\0" % size)
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        return TreeEntry(mode, digest.hexdigest())
    except OSError:
        return TreeEntry("unreadable", "")


def _blob_id(data: bytes, algo: str) -> str:
    return hashlib.new(algo, b"blob %d\0" % len(data) + data).hexdigest()
