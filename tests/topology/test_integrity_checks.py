"""Each integrity check, pinned by a minimal fleet that triggers it and one that does not."""

import pytest

from tests.topology.conftest import (
    aws,
    findings,
    kubernetes_provider,
    load,
    machine,
    machine_provider,
    stack,
    subjects,
)
from vitiweb.models import Cluster

pytestmark = pytest.mark.django_db

EC2 = machine_provider("ec2", aws=aws())


# -- references that do not resolve -------------------------------------------------------------------


def test_a_provider_named_but_never_defined_is_a_dangling_reference(cluster):
    load(cluster, stack("s", machineProviders=[{"name": "nowhere", "priority": 1}]))
    [finding] = findings("dangling-reference")
    assert finding.severity == "error"
    assert [obj.key for obj in finding.objects][1] == "MachineProvider:missing:production/nowhere"
    assert "Create MachineProvider production/nowhere" in finding.fix


def test_a_provider_that_exists_is_no_dangling_reference(cluster):
    load(cluster, stack("s", machineProviders=[{"name": "ec2", "priority": 1}]), EC2)
    assert findings("dangling-reference") == []


def test_a_dangling_reference_suggests_the_namespace_where_the_name_exists(cluster):
    load(
        cluster,
        machine_provider("a", namespace="default", failover={"targets": [{"name": "b", "namespace": "production"}]}),
        machine_provider("b", namespace="default"),
    )
    [finding] = findings("dangling-reference")
    assert "set namespace: default at spec.failover.targets[0]" in finding.fix


def test_an_instance_type_of_a_missing_provider_is_reported_once_as_the_missing_provider(cluster):
    load(cluster, machine("m", provider="nowhere", instanceType="t3.micro"))
    assert [f.path for f in findings("dangling-reference")] == ["spec.machineProvider"]
    assert findings("undeclared-entry") == []


def test_a_target_held_by_several_other_clusters_is_ambiguous(cluster):
    for name in ("a", "b"):
        load(Cluster.objects.create(name=name), stack("secondary", role="disaster-recovery"))
    load(cluster, stack("primary", disasterRecovery={"replicationTargets": [{"name": "secondary"}]}))
    [finding] = findings("ambiguous-reference")
    assert {obj.cluster for obj in finding.objects} == {"prod", "a", "b"}


def test_a_target_in_one_other_cluster_is_not_ambiguous(cluster):
    load(Cluster.objects.create(name="a"), stack("secondary"))
    load(cluster, stack("primary", disasterRecovery={"replicationTargets": [{"name": "secondary"}]}))
    assert findings("ambiguous-reference") == []


# -- secrets ----------------------------------------------------------------------------------------------


def test_a_secret_the_cluster_does_not_have_is_missing(cluster):
    load(cluster, machine_provider("ec2", aws=aws(credentials={"secretRef": {"name": "gone", "key": "k"}})))
    [finding] = findings("missing-secret")
    assert finding.severity == "error"
    assert "Secret production/gone (key k)" in finding.message
    assert "kubectl create secret generic gone --namespace production" in finding.fix


def test_a_secret_the_cluster_has_is_not_missing(cluster):
    load(cluster, EC2)
    assert findings("missing-secret") == []


def test_a_secret_in_another_cluster_does_not_count(cluster):
    load(Cluster.objects.create(name="other"), secrets={("production", "shared")})
    load(cluster, machine_provider("ec2", aws=aws(credentials={"secretRef": {"name": "shared"}})))
    [finding] = findings("missing-secret")
    assert finding.severity == "error" and "exists in cluster other" in finding.message


def test_when_no_secret_is_known_in_a_cluster_the_check_says_it_cannot_confirm(cluster):
    load(cluster, EC2, secrets=set())
    [finding] = findings("missing-secret")
    assert finding.severity == "warning" and "cannot be confirmed" in finding.message


# -- entries and networking the provider does not declare ------------------------------------------------


def test_an_instance_type_the_provider_does_not_offer_is_reported_with_what_it_offers(cluster):
    load(cluster, EC2, machine("bastion", instanceType="t3.micro", machineImage="ubuntu"))
    [finding] = findings("undeclared-entry")
    assert "t3.micro" in finding.message and "(it offers m5.large)" in finding.message
    assert "Use one of m5.large, or add t3.micro to production/ec2's spec.aws.instanceTypes." == finding.fix


def test_an_image_the_provider_does_not_offer_is_reported(cluster):
    load(cluster, EC2, machine("m", instanceType="m5.large", machineImage="debian"))
    assert subjects("undeclared-entry") == [("error", "production/m", "spec.machineImage")]


def test_a_node_group_instance_type_the_provider_does_not_offer_is_reported(cluster):
    groups = [{"name": "workers", "machineProvider": {"name": "ec2"}, "instanceType": "c5.huge"}]
    load(cluster, EC2, kubernetes_provider("eks", eks={"nodeGroups": groups}))
    [finding] = findings("undeclared-entry")
    assert "node group workers" in finding.message


def test_offered_instance_types_and_images_are_fine(cluster):
    load(cluster, EC2, machine("m", instanceType="m5.large", machineImage="ubuntu"))
    assert findings("undeclared-entry") == []


def test_a_security_group_the_provider_does_not_define_is_reported(cluster):
    provider = machine_provider(
        "ec2", aws=aws(networking={"subnets": ["subnet-1"], "securityGroups": [{"name": "nodes"}]})
    )
    load(
        cluster,
        provider,
        machine("m", instanceType="m5.large", networking={"subnet": "subnet-1", "securityGroups": ["bastion-sg"]}),
    )
    assert subjects("undeclared-networking") == [
        ("warning", "production/m", "spec.networking.securityGroups.bastion-sg")
    ]


def test_subnets_and_security_groups_the_provider_defines_are_fine(cluster):
    provider = machine_provider(
        "ec2", aws=aws(networking={"subnets": ["subnet-1"], "securityGroups": [{"name": "nodes"}]})
    )
    load(cluster, provider, machine("m", networking={"subnet": "subnet-1", "securityGroups": ["nodes"]}))
    assert findings("undeclared-networking") == []


def test_a_subnet_the_provider_does_not_list_is_reported(cluster):
    provider = machine_provider("ec2", aws=aws(networking={"subnets": ["subnet-1"]}))
    load(cluster, provider, machine("m", networking={"subnet": "subnet-9"}))
    assert subjects("undeclared-networking") == [("warning", "production/m", "spec.networking.subnet")]


# -- two-sided relationships --------------------------------------------------------------------------


def dr_pair(back=True, role="disaster-recovery", region="east", declared_region="east"):
    primary = stack(
        "primary",
        region="west",
        disasterRecovery={
            "replicationTargets": [
                {"name": "secondary", "region": declared_region, "replicationMode": "async", "rpo": "1h", "rto": "30m"}
            ]
        },
    )
    secondary = stack(
        "secondary", region=region, role=role, **({"primaryVitistack": {"name": "primary"}} if back else {})
    )
    return primary, secondary


def test_a_dr_target_that_does_not_point_back_is_reported(cluster):
    load(cluster, *dr_pair(back=False))
    [finding] = findings("dr-back-reference")
    assert "does not point back: it has no primaryVitistack" in finding.message
    assert finding.fix.startswith(
        "Set spec.primaryVitistack: {name: primary, namespace: production} on production/secondary"
    )


def test_a_secondary_naming_a_primary_that_does_not_list_it_is_reported(cluster):
    load(cluster, stack("primary"), stack("secondary", role="disaster-recovery", primaryVitistack={"name": "primary"}))
    [finding] = findings("dr-back-reference")
    assert "does not list it" in finding.message
    assert "disasterRecovery.replicationTargets" in finding.fix


def test_a_consistent_dr_pair_has_no_findings(cluster):
    load(cluster, *dr_pair())
    assert findings("dr-back-reference") == findings("dr-target") == []


def test_a_dr_target_without_the_disaster_recovery_role_is_reported(cluster):
    load(cluster, *dr_pair(role=""))
    assert [f.path for f in findings("dr-target")] == ["spec.disasterRecovery.replicationTargets[0].role"]


def test_a_dr_target_declared_in_the_wrong_region_is_reported(cluster):
    load(cluster, *dr_pair(declared_region="us-east-1", region="east-us"))
    [finding] = findings("dr-target")
    assert "region us-east-1" in finding.message and "is in region east-us" in finding.message


def test_a_dr_target_in_the_primarys_region_is_reported(cluster):
    load(cluster, *dr_pair(region="west", declared_region="west"))
    [finding] = findings("dr-target")
    assert "same region" in finding.message


def test_an_edge_location_whose_stack_does_not_name_the_central_one_is_reported(cluster):
    load(cluster, stack("central", edgeManagement={"edgeLocations": [{"name": "edge"}]}), stack("edge", role="edge"))
    [finding] = findings("edge-back-reference")
    assert "it has no managementVitistack" in finding.message


def test_an_edge_naming_a_central_that_lists_it_in_the_wrong_namespace_gets_the_namespace_fix(cluster):
    load(
        cluster,
        stack("central", namespace="edge-system", edgeManagement={"edgeLocations": [{"name": "edge-west"}]}),
        stack(
            "edge-west",
            namespace="edge-west",
            role="edge",
            managementVitistack={"name": "central", "namespace": "edge-system"},
        ),
    )
    [finding] = findings("edge-back-reference")
    assert finding.fix == "Set namespace: edge-west at spec.edgeManagement.edgeLocations[0] of edge-system/central."


def test_a_consistent_edge_pair_has_no_findings(cluster):
    load(
        cluster,
        stack("central", edgeManagement={"edgeLocations": [{"name": "edge"}]}),
        stack("edge", role="edge", managementVitistack={"name": "central"}),
    )
    assert findings("edge-back-reference") == []


def test_a_child_whose_parent_is_someone_else_is_reported(cluster):
    load(
        cluster,
        stack("global", childVitistacks=[{"name": "us"}]),
        stack("other"),
        stack("us", parentVitistack={"name": "other"}),
    )
    messages = [f.message for f in findings("hierarchy-back-reference")]
    assert any("its parentVitistack names production/other" in message for message in messages)
    assert any("production/other does not list it" in message for message in messages)


def test_a_consistent_parent_and_child_have_no_findings(cluster):
    load(cluster, stack("global", childVitistacks=[{"name": "us"}]), stack("us", parentVitistack={"name": "global"}))
    assert findings("hierarchy-back-reference") == []


# -- cycles and quotas --------------------------------------------------------------------------------


def test_a_hierarchy_cycle_is_reported(cluster):
    load(cluster, stack("a", childVitistacks=[{"name": "b"}]), stack("b", childVitistacks=[{"name": "a"}]))
    [finding] = findings("cycle")
    assert finding.message.startswith("The Vitistack hierarchy has a cycle: production/a → production/b → production/a")


def test_a_failover_cycle_is_reported(cluster):
    load(
        cluster,
        machine_provider("a", aws=aws(), failover={"targets": [{"name": "b"}]}),
        machine_provider("b", aws=aws(), failover={"targets": [{"name": "a"}]}),
    )
    [finding] = findings("cycle")
    assert "failover forms a cycle" in finding.message


def test_a_failover_chain_is_no_cycle(cluster):
    load(
        cluster,
        machine_provider("a", failover={"targets": [{"name": "b"}]}),
        machine_provider("b", failover={"targets": [{"name": "c"}]}),
        machine_provider("c"),
    )
    assert findings("cycle") == []


def test_machines_beyond_max_machines_are_over_subscription(cluster):
    load(
        cluster,
        stack("s", resourceQuotas={"maxMachines": 1}, machineProviders=[{"name": "ec2"}]),
        EC2,
        machine("m1", instanceType="m5.large"),
        machine("m2", instanceType="m5.large"),
    )
    [finding] = findings("quota")
    assert finding.severity == "error" and "2 machines" in finding.message and "maxMachines of 1" in finding.message


def test_machines_within_max_machines_are_fine(cluster):
    load(
        cluster,
        stack("s", resourceQuotas={"maxMachines": 2}, machineProviders=[{"name": "ec2"}]),
        EC2,
        machine("m1"),
        machine("m2"),
    )
    assert findings("quota") == []


def test_childrens_limits_beyond_the_parents_global_limits_are_over_subscription(cluster):
    load(
        cluster,
        stack(
            "global",
            childVitistacks=[{"name": "us"}, {"name": "eu"}],
            globalPolicies={"resourceLimits": {"globalMaxMachines": 1000, "globalMaxClusters": 50}},
        ),
        stack("us", parentVitistack={"name": "global"}, resourceQuotas={"maxMachines": 600, "maxClusters": 20}),
        stack("eu", parentVitistack={"name": "global"}, resourceQuotas={"maxMachines": 500, "maxClusters": 20}),
    )
    [finding] = findings("quota")
    assert "1100 machines" in finding.message and "globalMaxMachines of 1000" in finding.message
    assert finding.path == "spec.globalPolicies.resourceLimits.globalMaxMachines"


def test_childrens_limits_within_the_parents_global_limits_are_fine(cluster):
    load(
        cluster,
        stack(
            "global", childVitistacks=[{"name": "us"}], globalPolicies={"resourceLimits": {"globalMaxMachines": 1000}}
        ),
        stack("us", parentVitistack={"name": "global"}, resourceQuotas={"maxMachines": 500}),
    )
    assert findings("quota") == []


def test_an_edge_location_using_more_machines_than_its_central_allows_is_over_subscription(cluster):
    load(
        cluster,
        stack("central", edgeManagement={"edgeLocations": [{"name": "edge", "maxMachines": 1}]}),
        stack("edge", role="edge", managementVitistack={"name": "central"}, machineProviders=[{"name": "ec2"}]),
        EC2,
        machine("m1"),
        machine("m2"),
    )
    [finding] = findings("quota")
    assert finding.message.startswith("Edge location production/edge uses 2 machines, beyond the maxMachines of 1")


# -- namespaces, roles, unused and incomplete providers -------------------------------------------------


def test_a_reference_into_another_namespace_is_noted(cluster):
    load(
        cluster,
        stack("us", namespace="us-region", parentVitistack={"name": "global", "namespace": "default"}),
        stack("global", namespace="default", childVitistacks=[{"name": "us", "namespace": "us-region"}]),
    )
    assert {f.severity for f in findings("cross-namespace-reference")} == {"info"}
    assert len(findings("cross-namespace-reference")) == 2


def test_a_reference_in_the_same_namespace_is_not_noted(cluster):
    load(cluster, stack("s", machineProviders=[{"name": "ec2"}]), EC2)
    assert findings("cross-namespace-reference") == []


def test_a_stack_without_the_role_its_relationships_imply_is_noted(cluster):
    load(cluster, *dr_pair())
    assert subjects("role") == [("info", "production/primary", "spec.role")]


def test_a_stack_whose_role_contradicts_its_relationships_is_a_warning(cluster):
    load(cluster, stack("central", role="edge", edgeManagement={"edgeLocations": [{"name": "x"}]}))
    [finding] = findings("role")
    assert finding.severity == "warning" and "management" in finding.message


def test_a_provider_no_one_uses_is_noted(cluster):
    load(cluster, EC2)
    assert subjects("unused-provider") == [("info", "production/ec2", "spec")]


def test_a_provider_shared_with_a_stack_that_does_not_list_it_is_noted(cluster):
    load(cluster, stack("s"), machine_provider("shared", aws=aws(), shareWith=[{"vitistack": "s"}]))
    [finding] = findings("unused-provider")
    assert "is shared with production/s" in finding.message and finding.path == "spec.shareWith[0]"


def test_a_listed_provider_is_used(cluster):
    load(
        cluster,
        stack("s", machineProviders=[{"name": "ec2"}], kubernetesProviders=[{"name": "eks"}]),
        EC2,
        kubernetes_provider("eks", eks={"nodeGroups": []}),
    )
    assert findings("unused-provider") == []


def test_a_provider_with_its_configuration_block_elided_is_incomplete(cluster):
    load(cluster, machine_provider("p"))
    [finding] = findings("incomplete-provider")
    assert "has type aws but no spec.aws block" in finding.message


def test_a_provider_with_its_configuration_block_is_complete(cluster):
    load(cluster, EC2, kubernetes_provider("eks", eks={"nodeGroups": []}))
    assert findings("incomplete-provider") == []


def test_every_finding_has_a_stable_key_and_names_its_objects(cluster):
    load(cluster, stack("s", machineProviders=[{"name": "nowhere"}]))
    first, second = findings(), findings()
    assert [f.key for f in first] == [f.key for f in second]
    assert all(f.objects and f.fix and f.message for f in first)
