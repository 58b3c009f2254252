"""What the deploy tests read: the rendered manifests, the Containerfile and the README's Deploy section."""

from __future__ import annotations

import re
import shlex
import subprocess
from functools import cache
from pathlib import Path

import yaml

from tests.tools import KUBECTL

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@cache
def render(folder: str) -> tuple[dict, ...]:
    """``kubectl kustomize deploy/<folder>``, as documents."""
    result = subprocess.run(
        [KUBECTL, "kustomize", str(DEPLOY / folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(documents, kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def pod_specs(documents) -> dict[str, dict]:
    """name -> pod spec of every Deployment and Job."""
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]
        for doc in documents
        if doc["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet", "CronJob")
    }


def containers(spec: dict) -> list[dict]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def readme_deploy_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Deploy\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def production_command() -> list[str]:
    """The README's production web command, as argv, with its environment assignments first."""
    for line in readme_deploy_section().splitlines():
        if re.match(r"^(\w+=\S+ )*daphne ", line):
            return shlex.split(line)
    raise AssertionError("the README's Deploy section gives no daphne command")


def readme_read_rules() -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) of the README's RBAC table for reading (the first table after "RBAC")."""
    section = readme_deploy_section()
    table = section[section.index("**RBAC.**") :]
    rows = []
    for line in table.splitlines()[1:]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    rules = set()
    for row in rows[2:]:  # header and separator
        groups, resources, verbs = (cell.strip() for cell in row.strip("|").split("|"))
        for group in re.findall(r"`([^`]*)`", groups):
            for resource in re.findall(r"`([^`]+)`", resources):
                for verb in re.findall(r"`([^`]+)`", verbs):
                    rules.add((group.replace('""', ""), resource, verb))
    return rules


def role_rules(role: dict) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule.get("apiGroups", [""])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }
