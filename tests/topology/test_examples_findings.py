"""Loading the guide's examples yields exactly the findings its known inconsistencies imply
(examples/README.md, "Inconsistencies of the guide"), and no others. The guide's own naming
and labelling conventions, which its examples do not follow, are pinned in
tests/vitiweb/test_conventions.py."""

import pytest

from vitiweb.integrity import run_checks

pytestmark = pytest.mark.django_db

CONVENTIONS = {"naming-convention", "recommended-metadata", "environment-placement"}

EXPECTED = {
    # 02: providers referenced by both DR Vitistacks are never defined.
    ("dangling-reference", "error", "production/primary-vitistack", "spec.machineProviders[0]"),
    ("dangling-reference", "error", "production/primary-vitistack", "spec.kubernetesProviders[0]"),
    ("dangling-reference", "error", "production/secondary-vitistack", "spec.machineProviders[0]"),
    ("dangling-reference", "error", "production/secondary-vitistack", "spec.kubernetesProviders[0]"),
    # 02: the replication target is declared in us-east-1, the secondary is in east-us.
    ("dr-target", "warning", "production/primary-vitistack", "spec.disasterRecovery.replicationTargets[0].region"),
    # 02, 03, 06: roles the relationships imply but the manifests do not set.
    ("role", "info", "production/primary-vitistack", "spec.role"),
    ("role", "info", "edge-system/central-management", "spec.role"),
    ("role", "info", "default/global-vitistack", "spec.role"),
    ("role", "info", "us-region/us-vitistack", "spec.role"),
    # 03: edge-west listed without its namespace, edge-east never defined.
    ("dangling-reference", "error", "edge-system/central-management", "spec.edgeManagement.edgeLocations[0]"),
    ("dangling-reference", "error", "edge-system/central-management", "spec.edgeManagement.edgeLocations[1]"),
    ("edge-back-reference", "warning", "edge-west/edge-west", "spec.managementVitistack"),
    ("cross-namespace-reference", "info", "edge-west/edge-west", "spec.managementVitistack"),
    # 01: the bastion's t3.micro and bastion-sg; Grafana's Secret never created.
    ("undeclared-entry", "error", "production/bastion-host", "spec.instanceType"),
    ("undeclared-networking", "warning", "production/bastion-host", "spec.networking.securityGroups.bastion-sg"),
    ("missing-secret", "error", "production/aws-eks-provider", "spec.monitoring.grafana.adminPassword.secretRef"),
    # 04: the failover target in production is in default; neither provider is used; blocks elided.
    ("dangling-reference", "error", "default/primary-provider", "spec.failover.targets[0]"),
    ("unused-provider", "info", "default/primary-provider", "spec"),
    ("unused-provider", "info", "default/secondary-provider", "spec"),
    ("incomplete-provider", "warning", "default/primary-provider", "spec.aws"),
    ("incomplete-provider", "warning", "default/secondary-provider", "spec.azure"),
    # 05: shared with Vitistacks in production that do not list it; its aws block elided.
    ("unused-provider", "info", "default/shared-storage-provider", "spec.shareWith[0]"),
    ("unused-provider", "info", "default/shared-storage-provider", "spec.shareWith[1]"),
    ("cross-namespace-reference", "info", "default/shared-storage-provider", "spec.shareWith[0]"),
    ("cross-namespace-reference", "info", "default/shared-storage-provider", "spec.shareWith[1]"),
    ("incomplete-provider", "warning", "default/shared-storage-provider", "spec.aws"),
    # 06: children never defined; the hierarchy crosses namespaces.
    ("dangling-reference", "error", "default/global-vitistack", "spec.childVitistacks[1]"),
    ("dangling-reference", "error", "default/global-vitistack", "spec.childVitistacks[2]"),
    ("cross-namespace-reference", "info", "default/global-vitistack", "spec.childVitistacks[0]"),
    ("cross-namespace-reference", "info", "us-region/us-vitistack", "spec.parentVitistack"),
}


def test_the_examples_yield_exactly_the_findings_of_the_guides_inconsistencies(examples):
    found = {(f.check, f.severity, f.subject.address, f.path) for f in run_checks() if f.check not in CONVENTIONS}
    assert found - EXPECTED == set(), "unexpected findings"
    assert EXPECTED - found == set(), "missing findings"


def test_the_consistent_parts_of_the_examples_raise_nothing(examples):
    findings = run_checks()
    checks = {f.check for f in findings}
    # The DR pair points both ways, the hierarchy's us-vitistack points back, no quota is exceeded, no cycle.
    assert not checks & {"dr-back-reference", "hierarchy-back-reference", "quota", "cycle", "ambiguous-reference"}
    # aws-production, aws-ec2-provider's credentials and the EKS node groups' instance types all check out.
    involved = {obj.address for f in findings for obj in f.objects if f.severity != "info"}
    assert "production/aws-production" not in involved


def test_each_dangling_fix_points_at_the_likely_intended_target(examples):
    by_path = {(f.subject.name, f.path): f for f in run_checks() if f.check == "dangling-reference"}
    assert "set namespace: edge-west" in by_path[("central-management", "spec.edgeManagement.edgeLocations[0]")].fix
    assert "set namespace: default" in by_path[("primary-provider", "spec.failover.targets[0]")].fix
    assert by_path[("central-management", "spec.edgeManagement.edgeLocations[1]")].fix == (
        "Create Vitistack edge-system/edge-east, or remove the entry at spec.edgeManagement.edgeLocations[1]."
    )
