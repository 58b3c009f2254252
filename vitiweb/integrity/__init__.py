"""Integrity checks: every broken or risky relationship of the fleet, as findings.

Each check (``vitiweb.integrity.checks``) is a function over the reference
graph and the kind tables returning ``Finding`` objects: a severity, the
objects involved, what is wrong and the fix in words. Findings are computed,
not stored: the database already holds everything they are made of, so they
cannot go stale. A run is cached per process, keyed by a fingerprint of the
mirrored tables, and recomputed when anything a check reads has changed.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Count, Max

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
        from vitiweb.topology.data import detail_url

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
    from vitiweb.topology.data import Fleet

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

    def worst_for(self, key: str) -> str | None:
        found = self.by_object.get(key)
        return min((f.severity for f in found), key=SEVERITY_RANK.get) if found else None

    def counts(self) -> dict[str, int]:
        if self._counts is None:
            counted = Counter(f.severity for f in self.findings)
            self._counts = {severity: counted.get(severity, 0) for severity in SEVERITIES}
        return dict(self._counts)

    def counts_by_check(self) -> list[tuple[str, str, int]]:
        counted = Counter(f.check for f in self.findings)
        return [(slug, CHECK_TITLES.get(slug, slug), counted[slug]) for slug in CHECK_TITLES if counted.get(slug)]


_CACHE_KEY = "vitiweb:integrity:{}"
_CACHE_SECONDS = 300


#: A fingerprint is trusted this long (seconds) before it is read again: pages rendered within
#: that time share one, and a change shows up at most this much later.
FINGERPRINT_SECONDS = 2.0
_last_fingerprint: tuple[float, str] = (0.0, "")


def current_fingerprint() -> str:
    global _last_fingerprint
    now = time.monotonic()
    if now - _last_fingerprint[0] > FINGERPRINT_SECONDS or not _last_fingerprint[1]:
        _last_fingerprint = (now, fingerprint())
    return _last_fingerprint[1]


def forget_fingerprint() -> None:
    global _last_fingerprint
    _last_fingerprint = (0.0, "")


#: The index of the last fingerprint this process used: every page shows findings (the nav badge
#: at least), and unpickling a large run from the cache on each request would cost more than the page.
_last_index: tuple[str, FindingIndex] | None = None


def current_findings() -> FindingIndex:
    """The checks' findings for the fleet as the database holds it now (cached by fingerprint)."""
    global _last_index
    current = current_fingerprint()
    remembered = _last_index
    if remembered is not None and remembered[0] == current:
        return remembered[1]
    key = _CACHE_KEY.format(current)
    findings = cache.get(key)
    if findings is None:
        findings = run_checks()
        cache.set(key, findings, _CACHE_SECONDS)
    index = FindingIndex(findings)
    _last_index = (current, index)
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
