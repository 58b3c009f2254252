"""Reading manifest files: YAML streams of Kubernetes objects.

Every problem is reported with the file, the document's index in it and the
field path, so that an operator can go straight to the line at fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vitiweb import safeyaml, schema
from vitiweb.kinds import API_VERSION, KINDS

YAML_SUFFIXES = {".yaml", ".yml"}


@dataclass(frozen=True)
class Document:
    file: str
    index: int
    body: dict

    @property
    def where(self) -> str:
        return f"{self.file}, document {self.index}"

    @property
    def kind(self) -> str:
        return self.body.get("kind", "")

    @property
    def name(self) -> str:
        return (self.body.get("metadata") or {}).get("name", "")

    @property
    def is_vitistack(self) -> bool:
        return self.body.get("apiVersion") == API_VERSION and self.kind in KINDS


@dataclass(frozen=True)
class ManifestError:
    file: str
    index: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.index is None else f"{self.file}, document {self.index}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def manifest_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """YAML files named directly, and those under named folders (sorted, recursive)."""
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        else:
            yield path


def parse_stream(text: str, file: str) -> tuple[list[Document], list[ManifestError]]:
    """The documents of one YAML stream (empty documents skipped), or why it is not YAML."""
    documents, errors = [], []
    try:
        bodies = safeyaml.load_all(text, file)
    except safeyaml.YamlError as exc:
        return [], [ManifestError(file, exc.document, exc.path, exc.message)]
    for index, body in enumerate(bodies):
        if body is None:
            continue
        if not isinstance(body, dict):
            errors.append(ManifestError(file, index, "", f"a document must be a mapping, not {type(body).__name__}"))
            continue
        errors.extend(check_identity(body, file, index))
        documents.append(Document(file, index, body))
    return documents, errors


def check_identity(body: dict, file: str, index: int) -> list[ManifestError]:
    """What every Kubernetes object needs: apiVersion, kind, metadata.name."""
    errors = []
    for field in ("apiVersion", "kind"):
        if not isinstance(body.get(field), str) or not body.get(field):
            errors.append(ManifestError(file, index, field, "required value"))
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        errors.append(ManifestError(file, index, "metadata", "required value"))
    elif not isinstance(metadata.get("name"), str) or not metadata.get("name"):
        errors.append(ManifestError(file, index, "metadata.name", "required value"))
    return errors


def read_manifests(paths: Iterable[str | Path], strict: bool = False) -> tuple[list[Document], list[ManifestError]]:
    """Every document under ``paths``, with every problem found (VitiStack kinds schema-checked)."""
    documents, errors = [], []
    files = list(manifest_files(paths))
    for file in files:
        if not file.exists():
            errors.append(ManifestError(str(file), None, "", "no such file or directory"))
            continue
        try:
            text = file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ManifestError(str(file), None, "", f"cannot be read: {exc}"))
            continue
        file_documents, file_errors = parse_stream(text, str(file))
        errors.extend(file_errors)
        for document in file_documents:
            documents.append(document)
            if document.is_vitistack and not any(
                e.file == document.file and e.index == document.index for e in file_errors
            ):
                errors.extend(
                    ManifestError(document.file, document.index, error.path, error.message)
                    for error in schema.validate(document.body, strict=strict)
                )
    if not files:
        errors.append(ManifestError(", ".join(map(str, paths)), None, "", "no YAML files found"))
    return documents, errors
