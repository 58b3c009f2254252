"""References resolve in the referrer's cluster first, then across the fleet,
and are re-resolved whenever their targets appear, change or disappear."""

import pytest

from tests.conftest import k8s_object
from vitiweb.models import Reference
from vitiweb.sync.mirror import apply_events, apply_snapshot

pytestmark = pytest.mark.django_db

EC2 = {"type": "aws", "aws": {"instanceTypes": [{"name": "m5.large"}], "machineImages": [{"name": "ubuntu"}]}}


def machine(name="m1", instance="m5.large", image="ubuntu", provider="ec2", **kw):
    spec = {"machineProvider": {"name": provider}, "instanceType": instance, "machineImage": image}
    return k8s_object("Machine", name, spec=spec, **kw)


def ref(relation, **filters):
    return Reference.objects.get(relation=relation, **filters)


def test_a_dangling_reference_resolves_when_its_target_arrives(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Machine", [machine()])
    assert ref("machine-provider").state == "dangling"
    assert ref("machine-provider").detail == "MachineProvider production/ec2 does not exist in the fleet"

    apply_snapshot(cluster, "MachineProvider", [k8s_object("MachineProvider", "ec2", spec=EC2)])
    provider = ref("machine-provider")
    assert provider.state == "resolved" and provider.target_cluster == cluster
    assert ref("instance-type").state == "resolved"


def test_a_reference_dangles_again_when_its_target_is_deleted(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "MachineProvider", [k8s_object("MachineProvider", "ec2", spec=EC2)])
    apply_snapshot(cluster, "Machine", [machine()])
    apply_events(cluster, "MachineProvider", [("DELETED", k8s_object("MachineProvider", "ec2", spec=EC2))])
    assert ref("machine-provider").state == "dangling"
    assert ref("machine-provider").target_id is None


def test_the_referrers_cluster_wins_over_the_fleet(make_cluster):
    home, other = make_cluster("home"), make_cluster("other")
    apply_snapshot(other, "MachineProvider", [k8s_object("MachineProvider", "ec2", spec=EC2, uid="o")])
    apply_snapshot(home, "Machine", [machine()])
    assert ref("machine-provider").target_cluster == other  # found across the fleet
    apply_snapshot(home, "MachineProvider", [k8s_object("MachineProvider", "ec2", spec=EC2, uid="h")])
    assert ref("machine-provider").target_cluster == home


def test_a_target_in_several_other_clusters_is_ambiguous(make_cluster):
    home, a, b = make_cluster("home"), make_cluster("a"), make_cluster("b")
    for cluster in (a, b):
        apply_snapshot(cluster, "Vitistack", [k8s_object("Vitistack", "secondary", uid=f"s-{cluster.name}")])
    spec = {"disasterRecovery": {"replicationTargets": [{"name": "secondary", "replicationMode": "async"}]}}
    apply_snapshot(home, "Vitistack", [k8s_object("Vitistack", "primary", spec=spec)])
    target = ref("replication-target")
    assert target.state == "ambiguous"
    assert "exists in 2 clusters" in target.detail


def test_an_entry_the_provider_does_not_declare_is_flagged_until_it_does(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "MachineProvider", [k8s_object("MachineProvider", "ec2", spec=EC2)])
    apply_snapshot(cluster, "Machine", [machine(instance="t3.micro")])
    instance = ref("instance-type")
    assert instance.state == "dangling"
    assert instance.detail == (
        "instance type t3.micro is not declared by MachineProvider production/ec2 (it declares m5.large)"
    )
    grown = {"type": "aws", "aws": {**EC2["aws"], "instanceTypes": [{"name": "m5.large"}, {"name": "t3.micro"}]}}
    apply_events(cluster, "MachineProvider", [("MODIFIED", k8s_object("MachineProvider", "ec2", spec=grown, rv="2"))])
    assert ref("instance-type").state == "resolved"


def test_a_changed_spec_replaces_its_references(make_cluster):
    cluster = make_cluster()
    apply_snapshot(cluster, "Machine", [machine(provider="old")])
    apply_events(cluster, "Machine", [("MODIFIED", machine(provider="new", rv="2"))])
    assert set(Reference.objects.filter(relation="machine-provider").values_list("target_name", flat=True)) == {"new"}


def test_references_default_to_the_referrers_namespace_and_keep_their_attributes(make_cluster):
    cluster = make_cluster()
    spec = {
        "machineProviders": [{"name": "ec2", "priority": 1}, {"name": "gce", "namespace": "shared", "priority": 2}],
        "parentVitistack": {"name": "global", "namespace": "default"},
        "inheritPolicies": True,
    }
    apply_snapshot(cluster, "Vitistack", [k8s_object("Vitistack", "stack", spec=spec)])
    providers = Reference.objects.filter(relation="machine-provider").order_by("path")
    assert [(r.path, r.target_namespace, r.attributes) for r in providers] == [
        ("spec.machineProviders[0]", "production", {"priority": 1}),
        ("spec.machineProviders[1]", "shared", {"priority": 2}),
    ]
    assert ref("parent").attributes == {"inheritPolicies": True}


def test_secret_references_are_found_anywhere_in_the_spec(make_cluster):
    cluster = make_cluster()
    spec = {
        "type": "eks",
        "monitoring": {"grafana": {"adminPassword": {"secretRef": {"name": "grafana", "key": "pw"}}}},
    }
    apply_snapshot(cluster, "KubernetesProvider", [k8s_object("KubernetesProvider", "eks", spec=spec)])
    secret = ref("secret")
    assert (secret.path, secret.target_namespace, secret.state) == (
        "spec.monitoring.grafana.adminPassword.secretRef",
        "production",
        "dangling",
    )


def test_hostile_spec_values_do_not_break_reference_extraction(make_cluster):
    cluster = make_cluster()
    spec = {
        "machineProviders": "not-a-list",
        "childVitistacks": [None, 3, {"name": 7}, {"name": "ok"}],
        "disasterRecovery": [],
    }
    apply_snapshot(cluster, "Vitistack", [k8s_object("Vitistack", "odd", spec=spec)])
    assert list(Reference.objects.values_list("relation", "target_name")) == [("child", "ok")]
