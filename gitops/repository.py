"""Reading a Git source's manifests at one revision, and writing a change back as a commit.

Repositories are handled with dulwich (pure Python, no working tree): a
remote is fetched into a bare mirror under ``VAR_DIR/git/``, and files are
read straight from the commit's tree, so what Vitiweb reads is exactly the
commit it shows. A local path is either a repository (read at the branch's
commit, uncommitted edits ignored) or a plain folder (read as it is, named by
a digest of its content).

Every read is bounded (files, bytes per file, bytes in all): a repository is
input like any other.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from django.conf import settings
from dulwich import porcelain
from dulwich.errors import NotGitRepository
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

YAML_SUFFIXES = (".yaml", ".yml")


class GitSourceError(Exception):
    """The source cannot be read: unreachable, no such branch, too large."""


@dataclass
class Revision:
    commit: str
    message: str = ""
    author: str = ""
    committed_at: datetime | None = None
    files: dict[str, str] = field(default_factory=dict)  # path inside the source's folder -> text


def limits() -> tuple[int, int, int]:
    return (
        settings.VITIWEB_GIT_MAX_FILES,
        settings.VITIWEB_GIT_MAX_FILE_BYTES,
        settings.VITIWEB_GIT_MAX_TOTAL_BYTES,
    )


class _Budget:
    def __init__(self):
        self.max_files, self.max_file, self.max_total = limits()
        self.files = 0
        self.total = 0

    def take(self, path: str, size: int) -> None:
        self.files += 1
        self.total += size
        if self.files > self.max_files:
            raise GitSourceError(f"more than {self.max_files} YAML files under the source's path")
        if size > self.max_file:
            raise GitSourceError(f"{path}: {size} bytes, beyond the limit of {self.max_file} bytes per file")
        if self.total > self.max_total:
            raise GitSourceError(f"more than {self.max_total} bytes of YAML under the source's path")


def _decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GitSourceError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _prefix(source) -> PurePosixPath:
    cleaned = PurePosixPath("/" + (source.path or "").strip("/"))
    if ".." in cleaned.parts:
        raise GitSourceError(f"path {source.path!r} leaves the repository")
    return PurePosixPath(*cleaned.parts[1:]) if len(cleaned.parts) > 1 else PurePosixPath()


def mirror_dir(source) -> Path:
    return Path(settings.VAR_DIR) / "git" / f"source-{source.pk}.git"


@contextmanager
def _ssh_key(source):
    """A private key file for the duration of a fetch or push, readable by this user only."""
    if source.auth != source.Auth.SSH_KEY:
        yield None
        return
    handle, name = tempfile.mkstemp(prefix="vitiweb-key-")
    try:
        os.fchmod(handle, stat.S_IRUSR | stat.S_IWUSR)
        os.write(handle, source.get_credentials().encode().rstrip(b"\n") + b"\n")
        os.close(handle)
        yield name
    finally:
        os.unlink(name)


def _auth(source) -> dict:
    if source.auth == source.Auth.TOKEN:
        # Git hosts take a token as the password of any user name (GitHub, GitLab, Gitea).
        return {"username": "vitiweb", "password": source.get_credentials()}
    return {}


def _remote_error(source, exc: Exception) -> GitSourceError:
    text = str(exc).strip() or type(exc).__name__
    secret = source.get_credentials() if source.credentials_encrypted else ""
    if secret:
        text = text.replace(secret, "<redacted>")
    return GitSourceError(f"cannot fetch {source.url}: {text[:300]}")


def _open_repository(source) -> tuple[Repo, bytes]:
    """The repository holding the source's branch, and the branch's commit id."""
    ref = f"refs/heads/{source.branch}".encode()
    if source.local_path:
        repo = Repo(source.local_path)
        if ref not in repo.refs:
            raise GitSourceError(f"{source.local_path} has no branch {source.branch!r}")
        return repo, repo.refs[ref]
    target = mirror_dir(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    repo = Repo(str(target)) if target.exists() else Repo.init_bare(str(target), mkdir=True)
    with _ssh_key(source) as key_file:
        try:
            result = porcelain.fetch(
                repo,
                source.url,
                outstream=io.StringIO(),
                errstream=io.BytesIO(),
                quiet=True,
                key_filename=key_file,
                **_auth(source),
            )
        except Exception as exc:  # noqa: BLE001 - dulwich raises many types; every one is "cannot fetch"
            raise _remote_error(source, exc) from None
    sha = result.refs.get(ref)
    if not sha:
        raise GitSourceError(f"{source.url} has no branch {source.branch!r}")
    repo.refs[b"refs/remotes/origin/" + source.branch.encode()] = sha
    return repo, sha


def _walk(repo: Repo, tree_id: bytes, prefix: PurePosixPath, budget: _Budget, out: dict[str, str], here="") -> None:
    tree = repo[tree_id]
    for entry in tree.iteritems():
        name = entry.path.decode("utf-8", "replace")
        path = f"{here}{name}"
        if stat.S_ISDIR(entry.mode):
            _walk(repo, entry.sha, prefix, budget, out, path + "/")
        elif stat.S_ISREG(entry.mode) and name.endswith(YAML_SUFFIXES):
            blob = repo[entry.sha]
            budget.take(path, len(blob.data))
            out[path] = _decode(path, blob.data)


def _subtree(repo: Repo, tree_id: bytes, prefix: PurePosixPath) -> bytes | None:
    for part in prefix.parts:
        tree = repo[tree_id]
        try:
            mode, tree_id = tree[part.encode()]
        except KeyError:
            return None
        if not stat.S_ISDIR(mode):
            return None
    return tree_id


def read_revision(source) -> Revision:
    """The source's YAML files at the head of its branch (or in its folder), within the limits."""
    prefix = _prefix(source)
    if source.local_path and not _is_repository(source.local_path):
        return _read_folder(source, prefix)
    repo, sha = _open_repository(source)
    commit = repo[sha]
    files: dict[str, str] = {}
    tree_id = _subtree(repo, commit.tree, prefix)
    if tree_id is None:
        raise GitSourceError(f"commit {sha.decode()[:12]} has no folder {str(prefix)!r}")
    _walk(repo, tree_id, prefix, _Budget(), files)
    return Revision(
        commit=sha.decode(),
        message=commit.message.decode("utf-8", "replace").strip().splitlines()[0][:500] if commit.message else "",
        author=commit.author.decode("utf-8", "replace")[:300],
        committed_at=datetime.fromtimestamp(commit.commit_time, tz=UTC),
        files=files,
    )


def read_revision_file(source, path: str) -> str:
    """One file (path inside the source's folder) at the revision in use."""
    full = PurePosixPath(*_prefix(source).parts, *PurePosixPath(path).parts)
    if source.commit.startswith("folder-"):
        return (Path(source.local_path) / full).read_text()
    repo = Repo(source.local_path) if source.local_path else Repo(str(mirror_dir(source)))
    tree_id = _subtree(repo, repo[source.commit.encode()].tree, full.parent)
    try:
        mode, blob_id = repo[tree_id][full.name.encode()] if tree_id else (None, None)
    except KeyError:
        blob_id = None
    if blob_id is None:
        raise GitSourceError(f"{path} is not in revision {source.short_commit}")
    return _decode(path, repo[blob_id].data)


def _is_repository(path: str) -> bool:
    try:
        Repo(path).close()
    except NotGitRepository:
        return False
    return True


def _read_folder(source, prefix: PurePosixPath) -> Revision:
    root = Path(source.local_path) / prefix
    if not root.is_dir():
        raise GitSourceError(f"{root} is not a folder")
    budget = _Budget()
    digest = hashlib.sha256()
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in YAML_SUFFIXES):
        relative = path.relative_to(root).as_posix()
        budget.take(relative, path.stat().st_size)
        data = path.read_bytes()
        digest.update(relative.encode() + b"\0" + data + b"\0")
        files[relative] = _decode(relative, data)
    return Revision(commit=f"folder-{digest.hexdigest()[:20]}", message="(a folder, not a repository)", files=files)


# -- writing back ---------------------------------------------------------------------------------


def _tree_with(repo: Repo, tree_id: bytes | None, parts: tuple[str, ...], blob_id: bytes) -> bytes:
    """A copy of ``tree_id`` with the file at ``parts`` set to ``blob_id`` (folders created as needed)."""
    tree = Tree()
    if tree_id is not None:
        for entry in repo[tree_id].iteritems():
            tree.add(entry.path, entry.mode, entry.sha)
    head = parts[0].encode()
    if len(parts) == 1:
        tree.add(head, 0o100644, blob_id)
    else:
        try:
            mode, child = repo[tree_id][head] if tree_id is not None else (None, None)
        except KeyError:
            child = None
        tree.add(head, stat.S_IFDIR, _tree_with(repo, child, parts[1:], blob_id))
    repo.object_store.add_object(tree)
    return tree.id


@dataclass
class WriteBack:
    branch: str
    commit: str
    pushed: bool
    patch: str


def commit_changes(source, changes: dict[str, str], message: str, author: str) -> WriteBack:
    """Commit ``changes`` (path inside the source's folder -> new text) on a new branch from the revision in use.

    The branch is pushed when the source allows it; otherwise it stays in
    Vitiweb's mirror and the patch is offered instead. A local repository
    receives the branch directly (that is its push).
    """
    if not source.commit or source.commit.startswith("folder-"):
        raise GitSourceError("the source has no Git revision to branch from")
    prefix = _prefix(source)
    repo = Repo(source.local_path) if source.local_path else Repo(str(mirror_dir(source)))
    base = repo[source.commit.encode()]
    tree_id = base.tree
    for path, text in sorted(changes.items()):
        blob = Blob.from_string(text.encode())
        repo.object_store.add_object(blob)
        tree_id = _tree_with(repo, tree_id, (*prefix.parts, *PurePosixPath(path).parts), blob.id)
    commit = Commit()
    commit.tree = tree_id
    commit.parents = [base.id]
    commit.author = commit.committer = author.encode()
    commit.commit_time = commit.author_time = int(time.time())
    commit.commit_timezone = commit.author_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = message.encode()
    repo.object_store.add_object(commit)
    branch = f"vitiweb/{time.strftime('%Y%m%d-%H%M%S')}-{commit.id.decode()[:7]}"
    patch = make_patch(repo, base, commit)
    pushed = False
    if source.local_path:
        if source.push_enabled:
            repo.refs[f"refs/heads/{branch}".encode()] = commit.id
            pushed = True
    else:
        repo.refs[f"refs/heads/{branch}".encode()] = commit.id
        if source.push_enabled:
            with _ssh_key(source) as key_file:
                try:
                    porcelain.push(
                        repo,
                        source.url,
                        f"refs/heads/{branch}",
                        outstream=io.BytesIO(),
                        errstream=io.BytesIO(),
                        key_filename=key_file,
                        **_auth(source),
                    )
                except Exception as exc:  # noqa: BLE001 - any failure to push leaves the patch to download
                    raise _remote_error(source, exc) from None
            pushed = True
    return WriteBack(branch=branch, commit=commit.id.decode(), pushed=pushed, patch=patch)


def make_patch(repo: Repo, base: Commit, commit: Commit) -> str:
    """The commit as ``git format-patch`` would write it, for ``git am``."""
    from dulwich.patch import write_tree_diff

    body = io.BytesIO()
    write_tree_diff(body, repo.object_store, base.tree, commit.tree)
    header = (
        f"From {commit.id.decode()} Mon Sep 17 00:00:00 2001\n"
        f"From: {commit.author.decode()}\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(commit.commit_time))}\n"
        f"Subject: [PATCH] {commit.message.decode().splitlines()[0]}\n\n"
        f"{commit.message.decode()}\n---\n\n"
    )
    return header + body.getvalue().decode("utf-8", "replace")
