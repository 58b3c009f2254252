"""The guide's conventions ("Best Practices for Integration") as findings.

- names: ``{environment}-{region}-vitistack``, ``{provider-type}-{region}-provider``,
  ``{role}-{environment}-{sequence}``;
- the recommended labels (``vitistack.io/environment``, ``region``, ``team``, ``version``)
  and annotations (``description``, ``contact``, ``documentation``);
- one namespace per environment, and labels that agree with where the object lives.

Patterns, the recommended keys, the environments and each check's severity are
settings (``VITIWEB_CONVENTIONS``), since every organisation adapts them.
Objects that break a rule the same way in one namespace are reported together,
so a fleet of thousands of unlabelled machines reads as one finding per
namespace, not thousands.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache

from django.conf import settings

from vitiweb.fleet import Fleet
from vitiweb.integrity import Finding, ObjectRef
from vitiweb.kinds import KINDS, model_for

ENVIRONMENT_LABEL = "vitistack.io/environment"
#: What a placeholder of a naming pattern may stand for.
PLACEHOLDERS = {
    "environment": r"[a-z0-9]+",
    "region": r"[a-z0-9]+(?:-[a-z0-9]+)*?",
    "provider-type": r"[a-z0-9]+",
    "role": r"[a-z0-9]+(?:-[a-z0-9]+)*?",
    "sequence": r"[0-9]+",
}
_PLACEHOLDER = re.compile(r"\{([a-z-]+)\}")


def conventions() -> dict:
    return settings.VITIWEB_CONVENTIONS


@cache
def compile_pattern(pattern: str) -> re.Pattern:
    """``{role}-{environment}-{sequence}`` as a regular expression with a named group per placeholder."""
    parts, position = [], 0
    for match in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[position : match.start()]))
        name = match.group(1)
        if name not in PLACEHOLDERS:
            raise ValueError(f"naming pattern {pattern!r}: unknown placeholder {{{name}}}")
        parts.append(f"(?P<{name.replace('-', '_')}>{PLACEHOLDERS[name]})")
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    return re.compile("^" + "".join(parts) + "$")


def environment_of(namespace: str, labels: dict) -> str:
    """The object's environment: its label, else the namespace when that is an environment's."""
    label = labels.get(ENVIRONMENT_LABEL) if isinstance(labels, dict) else None
    if isinstance(label, str) and label:
        return label
    return namespace if namespace in conventions()["environments"] else ""


def _problems(fleet) -> dict[str, dict[tuple, list]]:
    """Check name -> (kind, cluster id, namespace, detail) -> [(pk, name)] of the objects breaking it.

    The three conventions read the same columns of every object (half a million machines, their labels
    and annotations decoded from JSON): one pass streams them for all three, once per run of the checks.
    """
    return fleet.memo("convention-problems", _find_problems)


def _find_problems() -> dict[str, dict[tuple, list]]:
    patterns = conventions()["names"]
    wanted_labels = conventions()["labels"]
    wanted_annotations = conventions()["annotations"]
    environments = set(conventions()["environments"])
    naming, metadata, placement = defaultdict(list), defaultdict(list), defaultdict(list)
    for kind in KINDS:
        pattern = patterns.get(kind)
        regex = compile_pattern(pattern) if pattern else None
        rows = model_for(kind).objects.values_list("pk", "cluster_id", "namespace", "name", "labels", "annotations")
        for pk, cluster_id, namespace, name, labels, notes in rows.iterator(chunk_size=5000):
            labels = labels if isinstance(labels, dict) else {}
            notes = notes if isinstance(notes, dict) else {}
            if regex is not None:
                match = regex.match(name)
                if match is None:
                    naming[(kind, cluster_id, namespace, pattern)].append((pk, name))
                else:
                    environment = match.groupdict().get("environment")
                    actual = environment_of(namespace, labels)
                    if environment and actual and environment != actual:
                        detail = f"names environment {environment}, not {actual}"
                        naming[(kind, cluster_id, namespace, detail)].append((pk, name))
            missing = tuple(k for k in wanted_labels if k not in labels) + tuple(
                k for k in wanted_annotations if k not in notes
            )
            if missing:
                metadata[(kind, cluster_id, namespace, missing)].append((pk, name))
            label = labels.get(ENVIRONMENT_LABEL)
            if isinstance(label, str) and label:
                if namespace in environments and label != namespace:
                    placement[(kind, cluster_id, namespace, f"labelled {label}")].append((pk, name))
                elif label in environments and namespace not in environments:
                    placement[(kind, cluster_id, namespace, f"outside {label}")].append((pk, name))
    return {"naming-convention": naming, "recommended-metadata": metadata, "environment-placement": placement}


def _cluster_names() -> dict[int, str]:
    from vitiweb.models import Cluster

    return dict(Cluster.objects.values_list("pk", "name"))


def _grouped(check: str, problems: dict[tuple, list], clusters: dict[int, str], message, fix, path: str):
    """One finding per (kind, cluster, namespace, problem) with every object it concerns."""
    severity = conventions()["severity"][check]
    findings = []
    for (kind, cluster_id, namespace, detail), rows in sorted(problems.items(), key=lambda item: item[0][:3]):
        objects = tuple(
            ObjectRef(kind, pk, clusters.get(cluster_id, ""), namespace, name) for pk, name in sorted(rows, key=str)
        )
        findings.append(
            Finding(check, severity, message(kind, namespace, detail, objects), fix(kind, detail), objects, path)
        )
    return findings


def _names(objects: tuple[ObjectRef, ...], shown: int = 5) -> str:
    names = ", ".join(obj.name for obj in objects[:shown])
    return names + (f" and {len(objects) - shown} more" if len(objects) > shown else "")


def naming(fleet=None) -> list[Finding]:
    patterns = conventions()["names"]
    clusters = _cluster_names()
    problems = _problems(fleet or Fleet())["naming-convention"]

    def message(kind, namespace, detail, objects):
        where = f"in {namespace}" if namespace else ""
        if detail.startswith("names environment"):
            return f"{len(objects)} {kind} name(s) {where} {detail}: {_names(objects)}."
        return f"{len(objects)} {kind} name(s) {where} do not follow {detail}: {_names(objects)}."

    def fix(kind, detail):
        return f"Name {kind} objects {patterns[kind]}, e.g. {example_name(patterns[kind])}."

    return _grouped("naming-convention", problems, clusters, message, fix, "metadata.name")


def example_name(pattern: str) -> str:
    samples = {"environment": "production", "region": "us-west", "provider-type": "aws", "role": "worker"}
    samples["sequence"] = "001"
    return _PLACEHOLDER.sub(lambda m: samples.get(m.group(1), m.group(1)), pattern)


def recommended_metadata(fleet=None) -> list[Finding]:
    clusters = _cluster_names()
    problems = _problems(fleet or Fleet())["recommended-metadata"]

    def message(kind, namespace, missing, objects):
        where = f" in {namespace}" if namespace else ""
        return f"{len(objects)} {kind}(s){where} lack the recommended {', '.join(missing)}: {_names(objects)}."

    def fix(kind, missing):
        return "Add " + ", ".join(missing) + " (labels and annotations the guide recommends on every object)."

    return _grouped("recommended-metadata", problems, clusters, message, fix, "metadata")


def environment_placement(fleet=None) -> list[Finding]:
    """Objects whose environment label disagrees with the environment namespace they live in."""
    clusters = _cluster_names()
    problems = _problems(fleet or Fleet())["environment-placement"]

    def message(kind, namespace, detail, objects):
        if detail.startswith("labelled"):
            environment = detail.removeprefix("labelled ")
            return (
                f"{len(objects)} {kind}(s) in the {namespace} namespace are labelled "
                f"{ENVIRONMENT_LABEL}={environment}: {_names(objects)}."
            )
        environment = detail.removeprefix("outside ")
        return (
            f"{len(objects)} {kind}(s) labelled {ENVIRONMENT_LABEL}={environment} live in {namespace or 'no namespace'},"
            f" not in the {environment} namespace: {_names(objects)}."
        )

    def fix(kind, detail):
        if detail.startswith("labelled"):
            return "Correct the environment label, or move the objects to that environment's namespace."
        return f"Move the objects to the {detail.removeprefix('outside ')} namespace (one namespace per environment)."

    return _grouped("environment-placement", problems, clusters, message, fix, f"metadata.labels.{ENVIRONMENT_LABEL}")
