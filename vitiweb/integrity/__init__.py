"""Integrity checks: every broken or risky relationship of the fleet, as findings.

Each check (``vitiweb.integrity.checks``) is a function over the reference
graph and the kind tables returning ``Finding`` objects: a severity, the
objects involved, what is wrong and the fix in words.

A run costs a scan of the fleet (about 0.3 s at 50,000 machines), so no page
computes one: one process, the holder of the derivation lease
(``vitiweb.derive``), recomputes the findings after sync commits changed the
fleet (``fingerprint``) and stores them as a ``FindingsRun``; every web
process reads the latest stored run (``current_findings``), decoding it
once per process per run.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import orjson
from django.db.models import Count, Max

from vitiweb.fleet import Fleet, detail_url

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)
SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True)
class ObjectRef:
    """An object a finding is about; ``id`` is None for one that does not exist (a missing target)."""

    kind: str
    id: int | None
    cluster: str
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}" if self.id is not None else f"{self.kind}:missing:{self.namespace}/{self.name}"

    @property
    def address(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def url(self) -> str:
        return detail_url(self.kind, self.id)

    def __str__(self) -> str:
        return f"{self.kind} {self.address}"


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    message: str
    fix: str
    objects: tuple[ObjectRef, ...]
    path: str = ""
    detail: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        text = "|".join([self.check, self.path, *(obj.key for obj in self.objects)])
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    @property
    def subject(self) -> ObjectRef:
        return self.objects[0]

    @property
    def title(self) -> str:
        return CHECK_TITLES.get(self.check, self.check)

    @property
    def kinds(self) -> set[str]:
        return {obj.kind for obj in self.objects}


def run_checks(fleet=None) -> list[Finding]:
    """Every check over the whole fleet, most severe first."""
    from vitiweb.integrity.checks import CHECKS

    fleet = fleet or Fleet()
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check.function(fleet))
    unique = {finding.key: finding for finding in findings}
    return sorted(unique.values(), key=lambda f: (SEVERITY_RANK[f.severity], f.check, f.subject.address, f.path))


def fingerprint() -> str:
    """Changes whenever a row a check reads is added, changed or removed."""
    from vitiweb.kinds import all_models
    from vitiweb.models import Cluster, KnownSecret, Reference

    parts = []
    for model in all_models():
        parts.append(model.objects.aggregate(n=Count("id"), m=Max("id"), s=Max("synced_at")))
    for model in (Reference, KnownSecret, Cluster):
        parts.append(model.objects.aggregate(n=Count("id"), m=Max("id")))
    from vitiweb.monitoring.models import RbacCheck

    parts.append(RbacCheck.objects.filter(allowed=False).aggregate(n=Count("id"), m=Max("reference_pk")))
    return hashlib.sha1(repr(parts).encode()).hexdigest()


class FindingIndex:
    """A run of the checks, with lookups by object and counts."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        self._counts: dict[str, int] | None = None
        self.by_object: dict[str, list[Finding]] = defaultdict(list)
        for finding in findings:
            for obj in finding.objects:
                self.by_object[obj.key].append(finding)

    def for_object(self, kind: str, pk: int) -> list[Finding]:
        return self.by_object.get(f"{kind}:{pk}", [])

    def counts(self) -> dict[str, int]:
        if self._counts is None:
            counted = Counter(f.severity for f in self.findings)
            self._counts = {severity: counted.get(severity, 0) for severity in SEVERITIES}
        return dict(self._counts)

    def counts_by_check(self) -> list[tuple[str, str, int]]:
        counted = Counter(f.check for f in self.findings)
        return [(slug, CHECK_TITLES.get(slug, slug), counted[slug]) for slug in CHECK_TITLES if counted.get(slug)]


def finding_to_json(finding: Finding) -> dict:
    return {
        "check": finding.check,
        "severity": finding.severity,
        "message": finding.message,
        "fix": finding.fix,
        "path": finding.path,
        "detail": finding.detail,
        "objects": [[o.kind, o.id, o.cluster, o.namespace, o.name] for o in finding.objects],
    }


def pack_findings(findings: list[dict]) -> bytes:
    """Serialised findings as a run stores them: JSON, compressed (findings repeat their checks' words)."""
    return zlib.compress(orjson.dumps(findings), 1)


def unpack_findings(packed: bytes | memoryview) -> list[dict]:
    return orjson.loads(zlib.decompress(packed)) if packed else []


def finding_from_json(data: dict) -> Finding:
    return Finding(
        check=data["check"],
        severity=data["severity"],
        message=data["message"],
        fix=data["fix"],
        path=data.get("path", ""),
        detail=data.get("detail") or {},
        objects=tuple(ObjectRef(*obj) for obj in data["objects"]),
    )


def store_findings(current: str | None = None):
    """Run the checks if the fleet changed since the stored run, and store them; the stored run.

    Only the holder of the derivation lease calls this (and tests, to set the stage).
    """
    from vitiweb.models import FindingsRun

    current = current or fingerprint()
    latest = FindingsRun.objects.only("id", "fingerprint").first()
    if latest is not None and latest.fingerprint == current:
        return latest
    started = time.monotonic()
    findings = run_checks()
    packed = pack_findings([finding_to_json(f) for f in findings])
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    if (
        latest is not None
        and bytes(FindingsRun.objects.filter(id=latest.id).values_list("packed", flat=True)[0]) == packed
    ):
        # Most changes (a machine's phase) change no finding: readers keep the run they decoded.
        FindingsRun.objects.filter(id=latest.id).update(fingerprint=current, duration_ms=duration_ms)
        return latest
    counted = Counter(f.severity for f in findings)
    run = FindingsRun.objects.create(
        fingerprint=current,
        duration_ms=duration_ms,
        counts={severity: counted.get(severity, 0) for severity in SEVERITIES},
        packed=packed,
    )
    # Readers take the newest run; older ones are kept briefly for a reader already loading one.
    FindingsRun.objects.filter(id__lt=run.id).exclude(id__in=[latest.id] if latest else []).delete()
    return run


#: The decoded latest run this process read: ((run id, computed at), index). A run's findings never
#: change once stored, so its identity alone says whether the copy in memory is current.
_loaded: tuple[tuple, FindingIndex] | None = None
_EMPTY = FindingIndex([])


def current_findings() -> FindingIndex:
    """The latest stored findings (one indexed query; each run is decoded once per process)."""
    global _loaded
    from vitiweb.models import FindingsRun

    latest = FindingsRun.objects.values_list("id", "computed_at").first()
    if latest is None:
        return _EMPTY
    loaded = _loaded
    if loaded is not None and loaded[0] == latest:
        return loaded[1]
    stored = FindingsRun.objects.filter(id=latest[0]).values_list("packed", flat=True).first()
    if stored is None:  # replaced between the two queries: the next page reads the newer one
        return loaded[1] if loaded is not None else _EMPTY
    index = FindingIndex([finding_from_json(data) for data in unpack_findings(stored)])
    _loaded = (latest, index)
    return index


def _titles() -> dict[str, str]:
    from vitiweb.integrity.checks import CHECKS

    return {check.slug: check.title for check in CHECKS}


class _LazyTitles(dict):
    def _load(self):
        if not dict.__len__(self):
            self.update(_titles())

    def get(self, key, default=None):
        self._load()
        return super().get(key, default)

    def __iter__(self):
        self._load()
        return super().__iter__()

    def items(self):
        self._load()
        return super().items()


CHECK_TITLES = _LazyTitles()
