"""The guide's conventions (names, recommended labels and annotations, a namespace per environment) as findings."""

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.factories import k8s_object, mirror
from tests.topology.conftest import EXAMPLES
from vitiweb.integrity import run_checks
from vitiweb.integrity.conventions import compile_pattern, example_name

pytestmark = pytest.mark.django_db

LABELLED = {
    "vitistack.io/environment": "production",
    "vitistack.io/region": "us-west-2",
    "vitistack.io/team": "platform",
    "vitistack.io/version": "v1.0.0",
}
ANNOTATED = {
    "vitistack.io/description": "Production",
    "vitistack.io/contact": "platform-team@company.com",
    "vitistack.io/documentation": "https://docs.company.com/k8s",
}


def convention_findings(check):
    return [f for f in run_checks() if f.check == check]


def test_patterns_match_the_guides_own_example_names():
    assert compile_pattern("{environment}-{region}-vitistack").match("production-us-west-vitistack")
    assert compile_pattern("{provider-type}-{region}-provider").match("aws-us-west-provider")
    match = compile_pattern("{role}-{environment}-{sequence}").match("worker-production-001")
    assert match.group("role") == "worker" and match.group("environment") == "production"
    assert not compile_pattern("{role}-{environment}-{sequence}").match("bastion-host")
    assert example_name("{role}-{environment}-{sequence}") == "worker-production-001"


def test_the_guides_examples_break_its_own_naming_and_labelling_rules():
    call_command("import_manifests", str(EXAMPLES), "--source", "examples", verbosity=0)
    naming = {(f.severity, f.subject.address) for f in convention_findings("naming-convention")}
    assert ("info", "production/bastion-host") in naming  # not {role}-{environment}-{sequence}
    assert ("info", "production/aws-production") in naming  # not {environment}-{region}-vitistack
    names = {obj.name for f in convention_findings("naming-convention") for obj in f.objects}
    assert "aws-ec2-provider" not in names  # aws-{ec2}-provider fits {provider-type}-{region}-provider
    missing = convention_findings("recommended-metadata")
    assert {obj.name for f in missing for obj in f.objects} >= {"aws-production", "bastion-host", "aws-ec2-provider"}
    assert all("vitistack.io/team" in f.message and f.fix.startswith("Add ") for f in missing)


def test_a_well_named_labelled_object_raises_no_convention_finding(make_cluster):
    cluster = make_cluster()
    mirror(
        cluster,
        k8s_object(
            "Machine",
            "worker-production-001",
            namespace="production",
            labels=LABELLED,
            annotations=ANNOTATED,
        ),
    )
    assert convention_findings("naming-convention") == []
    assert convention_findings("recommended-metadata") == []
    assert convention_findings("environment-placement") == []


def test_objects_labelled_for_another_environment_than_their_namespace_are_a_warning(make_cluster):
    cluster = make_cluster()
    labels = {**LABELLED, "vitistack.io/environment": "production"}
    mirror(cluster, k8s_object("Machine", "worker-production-001", namespace="staging", labels=labels))
    mirror(cluster, k8s_object("Machine", "worker-production-002", namespace="team-a", labels=labels))
    placement = {f.subject.name: f for f in convention_findings("environment-placement")}
    assert placement["worker-production-001"].severity == "warning"
    assert "in the staging namespace are labelled vitistack.io/environment=production" in (
        placement["worker-production-001"].message
    )
    assert "not in the production namespace" in placement["worker-production-002"].message
    # A name that says staging on an object labelled production is a naming finding.
    mirror(cluster, k8s_object("Machine", "worker-staging-003", namespace="production", labels=labels))
    (naming,) = convention_findings("naming-convention")
    assert [o.name for o in naming.objects] == ["worker-staging-003"]
    assert "names environment staging, not production" in naming.message


def test_many_objects_breaking_a_rule_alike_are_one_finding_per_namespace(make_cluster):
    cluster = make_cluster()
    for index in range(30):
        mirror(cluster, k8s_object("Machine", f"node-{index}", namespace="production"))
    (finding,) = convention_findings("naming-convention")
    assert len(finding.objects) == 30
    assert "30 Machine name(s) in production" in finding.message and "and 25 more" in finding.message


@override_settings(
    VITIWEB_CONVENTIONS={
        "names": {"Machine": "{environment}-{role}-{sequence}"},
        "labels": ["team"],
        "annotations": [],
        "environments": ["prod"],
        "severity": {"naming-convention": "warning", "recommended-metadata": "info", "environment-placement": "error"},
    }
)
def test_patterns_keys_environments_and_severities_are_settings(make_cluster):
    cluster = make_cluster()
    mirror(cluster, k8s_object("Machine", "prod-worker-1", namespace="prod", labels={"team": "a"}))
    mirror(cluster, k8s_object("Machine", "worker-prod-1", namespace="prod", labels={"team": "a"}))
    (finding,) = convention_findings("naming-convention")
    assert finding.severity == "warning" and [o.name for o in finding.objects] == ["worker-prod-1"]
    assert convention_findings("recommended-metadata") == []
