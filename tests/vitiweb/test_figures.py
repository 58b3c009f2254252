"""Honest figures: every Machine, provider and node group counts for exactly one Vitistack, cost says what
it is, and every number on the overview and the cluster page leads to the rows that make it.

The fleet here is built to tempt double counting: a machine provider and a Kubernetes provider listed by
two Vitistacks each, node groups whose nodes are Machines (more of them than the group's desired size),
a spot node group without a spot price, machines without a price, an orphan provider, a dangling one,
and a machine in another cluster naming a provider that only exists in the first.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from machines.models import Machine
from providers.models import KubernetesProvider, MachineProvider, NodeGroup
from stacks.models import Vitistack
from tests.factories import k8s_object, make_cluster, mirror, status, viewer
from vitiweb.attribution import NODE_GROUP_LABEL, SHARED, UNATTRIBUTED, Fleet
from vitiweb.models import Cluster

pytestmark = pytest.mark.django_db

KP_LABEL = "vitistack.io/kubernetes-provider"


def priced(*entries):
    """A machine provider spec with instance types {name: (onDemand, spot or None)}."""
    types = []
    for name, on_demand, spot in entries:
        pricing = {"onDemand": f"${on_demand}/hour"}
        if spot is not None:
            pricing["spot"] = f"${spot}/hour"
        types.append({"name": name, "pricing": pricing})
    return {"type": "aws", "region": "us-west-2", "aws": {"instanceTypes": types}}


def group(name, provider, instance_type, desired, capacity="ON_DEMAND"):
    return {
        "name": name,
        "machineProvider": {"name": provider},
        "instanceType": instance_type,
        "capacityType": capacity,
        "scaling": {"minSize": 0, "maxSize": 10, "desiredSize": desired},
    }


def machine(name, provider, instance_type, node_of=None, phase="Running"):
    labels = {KP_LABEL: node_of[0], NODE_GROUP_LABEL: node_of[1]} if node_of else None
    spec = {"machineProvider": {"name": provider}, "instanceType": instance_type}
    return k8s_object("Machine", name, spec=spec, labels=labels, status=status(phase, phase == "Running"))


def current_cluster(name):
    return make_cluster(
        name,
        state=Cluster.State.CONNECTED,
        lease_holder="w",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
        last_sync_at=timezone.now(),
    )


def stack(name, mps=(), kps=(), max_machines=None):
    spec = {
        "machineProviders": [{"name": n, "priority": 1} for n in mps],
        "kubernetesProviders": [{"name": n, "priority": 1} for n in kps],
    }
    if max_machines:
        spec["resourceQuotas"] = {"maxMachines": max_machines}
    return k8s_object("Vitistack", name, spec=spec, status=status("Ready", True))


def tempting_fleet():
    """(east, west): the fleet described at the top of this module."""
    east, west = current_cluster("east"), current_cluster("west")
    mirror(
        east,
        stack("alpha", mps=["mp-own", "mp-shared"], kps=["kp-own"], max_machines=6),
        stack("beta", mps=["mp-shared"], kps=["kp-shared"], max_machines=2),
        stack("gamma", kps=["kp-shared"]),
        stack("empty"),
        k8s_object("MachineProvider", "mp-own", spec=priced(("m5.large", 0.1, 0.04), ("m5.xlarge", 0.2, None))),
        k8s_object("MachineProvider", "mp-shared", spec=priced(("m5.large", 0.1, 0.04))),
        k8s_object("MachineProvider", "mp-orphan", spec=priced()),
        k8s_object(
            "KubernetesProvider",
            "kp-own",
            spec={
                "type": "eks",
                "eks": {
                    "nodeGroups": [
                        group("ng-a", "mp-own", "m5.large", desired=2),
                        # SPOT capacity, and mp-own lists no spot price for m5.xlarge: unknown, not 0.
                        group("ng-b", "mp-own", "m5.xlarge", desired=3, capacity="SPOT"),
                    ]
                },
            },
        ),
        k8s_object(
            "KubernetesProvider",
            "kp-shared",
            spec={"type": "eks", "eks": {"nodeGroups": [group("ng-c", "mp-shared", "m5.large", 1, "SPOT")]}},
        ),
        k8s_object("KubernetesProvider", "kp-orphan", spec={"type": "eks"}),
        # Three nodes of ng-a (desired 2): the group is priced at 3, and none of them again as a machine.
        *[machine(f"ng-a-{i}", "mp-own", "m5.large", node_of=("kp-own", "ng-a")) for i in range(3)],
        machine("plain", "mp-own", "m5.large", phase="Failed"),
        machine("plain-xl", "mp-own", "m5.xlarge"),
        machine("tiny", "mp-own", "t3.micro"),  # no price for t3.micro: unknown
        machine("shared-1", "mp-shared", "m5.large"),
        machine("shared-2", "mp-shared", "m5.large", phase="Pending"),
        machine("shared-node", "mp-shared", "m5.large", node_of=("kp-shared", "ng-c")),
        machine("orphan", "mp-orphan", "m5.large"),
        machine("dangling", "mp-missing", "m5.large"),
        # Labels naming a node group that does not exist: an ordinary machine.
        machine("fake-node", "mp-own", "m5.large", node_of=("kp-own", "no-such-group")),
    )
    mirror(west, machine("elsewhere", "mp-own", "m5.large"))
    return east, west


@pytest.fixture
def tempting():
    return tempting_fleet()


def by_key(buckets, name):
    return buckets[str(Vitistack.objects.get(name=name).pk)]


def test_every_figure_adds_up_to_the_fleet_total_without_counting_anything_twice(tempting):
    buckets = Fleet().buckets()
    parts = list(buckets.values())
    assert sum(b.machines for b in parts) == Machine.objects.count() == 13
    assert sum(b.machine_providers for b in parts) == MachineProvider.objects.count() == 3
    assert sum(b.kubernetes_providers for b in parts) == KubernetesProvider.objects.count() == 3
    assert sum(b.node_groups for b in parts) == NodeGroup.objects.count() == 3
    for bucket in parts:
        # Each machine is priced as a machine, has no price, or is a node (priced in its group): one of three.
        assert bucket.priced_machines + bucket.unpriced_machines + bucket.node_machines == bucket.machines

    # The cost, worked out by hand from the fleet above:
    machines = 0.1 + 0.2 + 0.1 + 0.1 + 0.1  # plain, plain-xl, fake-node, shared-1, shared-2
    groups = 0.1 * 3 + 0.04 * 1  # ng-a at its 3 nodes found; ng-c at spot x desired 1; ng-b unknown
    assert sum(b.machine_cost for b in parts) == pytest.approx(machines)
    assert sum(b.nodegroup_cost for b in parts) == pytest.approx(groups)
    assert sum(b.cost for b in parts) == pytest.approx(machines + groups)
    # tiny (no t3.micro price), orphan (its provider lists no prices), dangling, elsewhere (no provider found)
    assert sum(b.unpriced_machines for b in parts) == 4
    assert sum(b.unpriced_node_groups for b in parts) == 1  # ng-b


def test_a_provider_listed_by_several_vitistacks_counts_once_in_the_shared_bucket(tempting):
    buckets = Fleet().buckets()
    alpha, beta, gamma = by_key(buckets, "alpha"), by_key(buckets, "beta"), by_key(buckets, "gamma")
    shared = buckets[SHARED]
    assert (alpha.machines, alpha.machine_providers, alpha.kubernetes_providers) == (7, 1, 1)
    assert (beta.machines, beta.machine_providers, beta.kubernetes_providers) == (0, 0, 0)
    assert gamma.kubernetes_providers == 0
    assert (shared.machines, shared.machine_providers, shared.kubernetes_providers) == (3, 1, 1)
    assert {Vitistack.objects.get(pk=pk).name for pk in shared.sharing} == {"alpha", "beta", "gamma"}
    nobody = buckets[UNATTRIBUTED]
    # mp-orphan's machine, the dangling one, and the machine in another cluster than its provider's name.
    assert (nobody.machines, nobody.machine_providers, nobody.kubernetes_providers) == (3, 1, 1)


def test_node_group_capacity_is_not_added_again_for_the_machines_that_are_its_nodes(tempting):
    alpha = by_key(Fleet().buckets(), "alpha")
    assert alpha.node_machines == 3 and alpha.node_groups == 2
    assert alpha.nodegroup_cost == pytest.approx(0.1 * 3)
    assert alpha.machine_cost == pytest.approx(0.1 + 0.2 + 0.1)  # plain, plain-xl, fake-node
    assert alpha.unpriced_node_groups == 1 and alpha.unpriced_machines == 1


def test_each_bucket_filter_lists_exactly_the_rows_it_counts(tempting):
    fleet = Fleet()
    buckets = fleet.buckets()
    machines = Machine.objects.all()
    for key, bucket in buckets.items():
        assert fleet.machines_in(machines, key).count() == bucket.machines, key
        assert len(fleet.providers_in(MachineProvider.KIND, key)) == bucket.machine_providers, key
        in_bucket = fleet.machines_in(machines, key)
        assert fleet.node_machines(in_bucket, nodes=True).count() == bucket.node_machines, key
        assert fleet.priced_machines(in_bucket, priced=True).count() == bucket.priced_machines, key
        assert fleet.priced_machines(in_bucket, priced=False).count() == bucket.unpriced_machines, key


def test_quota_use_counts_each_machine_for_one_vitistack_as_the_figures_do(tempting):
    """The quota checks read ``stack_usage``: a machine on a provider two stacks list is in neither's quota."""
    from vitiweb.fleet import Fleet as Graph
    from vitiweb.integrity.checks import stack_quotas

    graph = Graph()
    buckets = Fleet().buckets()
    for stack_ in Vitistack.objects.all():
        bucket = buckets.get(str(stack_.pk))
        assert graph.stack_usage(stack_.pk)["machines"] == (bucket.machines if bucket else 0), stack_.name
    alpha, beta = (Vitistack.objects.get(name=name).pk for name in ("alpha", "beta"))
    # alpha: 7 machines on mp-own (not the 3 on mp-shared, nor the one in west naming a provider west lacks);
    # its node groups want 3 more nodes (ng-b), ng-a's 3 Machines already cover its desired 2.
    assert graph.stack_usage(alpha) == {"machines": 7, "node_group_nodes": 3, "clusters": 1, "providers": 2}
    assert graph.stack_usage(beta) == {"machines": 0, "node_group_nodes": 0, "clusters": 0, "providers": 0}
    messages = [finding.message for finding in stack_quotas(graph)]
    assert any(m.startswith("production/alpha has 7 machines counted for it") for m in messages), messages
    assert not any("production/beta" in m for m in messages), messages  # maxMachines 2, and mp-shared has 3


# -- every number leads to its rows ----------------------------------------------------------------------

_COUNT = re.compile(r'<a [^>]*href="([^"]+)"[^>]*data-count="(\d+)"|<a [^>]*data-count="(\d+)"[^>]*href="([^"]+)"')
_API_COUNT = re.compile(r'<a [^>]*href="([^"]+)"[^>]*data-api-count="(\d+)"')
# Object lists say id="result-count"; the findings page class="result-count".
_RESULT = re.compile(r'(?:id|class)="result-count"><strong>(\d+)</strong>')


def linked_counts(html: str) -> list[tuple[str, int]]:
    found = []
    for match in _COUNT.finditer(html):
        url, count = (match[1], match[2]) if match[1] else (match[4], match[3])
        found.append((url.replace("&amp;", "&"), int(count)))
    return found


def list_count(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    match = _RESULT.search(response.content.decode())
    assert match, f"{url} shows no result count"
    return int(match[1])


def figure(html, element_id):
    start = html.index(f'<script id="{element_id}" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_every_number_on_the_overview_links_to_a_list_of_exactly_that_many_rows(client, tempting):
    client.force_login(viewer())
    html = client.get(reverse("home")).content.decode()
    links = linked_counts(html)
    # Kind totals and phases, readiness, per-cluster counts, per-bucket quota and cost columns, the total row.
    assert len(links) > 60
    for url, count in links:
        assert list_count(client, url) == count, url
    for url, count in _API_COUNT.findall(html):
        assert client.get(url.replace("&amp;", "&")).json()["count"] == int(count), url

    # The usage table's rows add up to its total row, column by column.
    total = {url: count for url, count in links if "vitistack=" not in url}
    assert total[reverse("machine_list")] == Machine.objects.count()

    # Each chart bar carries the URL of its rows; counting bars must match them.
    for element_id, axis in (("fig-machines-by-phase", "y"), ("fig-providers-by-type", "y"), ("fig-quota", "x")):
        for trace in figure(html, element_id)["data"]:
            if trace["name"] == "Machine limit":
                continue
            for value, url in zip(trace[axis], trace["customdata"], strict=True):
                assert list_count(client, url) == value, (element_id, url)
    # Cost bars open the machines priced in that bucket (and the Kubernetes providers of its node groups).
    buckets = {b.label: b for b in Fleet().buckets().values()}
    machines_trace, groups_trace = figure(html, "fig-cost")["data"]
    for label, url in zip(machines_trace["y"], machines_trace["customdata"], strict=True):
        assert list_count(client, url) == buckets[label].priced_machines
    for label, url in zip(groups_trace["y"], groups_trace["customdata"], strict=True):
        assert list_count(client, url) == buckets[label].kubernetes_providers


def test_every_number_on_the_cluster_page_links_to_a_list_of_exactly_that_many_rows(client, tempting):
    east, _ = tempting
    client.force_login(viewer())
    html = client.get(reverse("cluster_detail", args=[east.pk])).content.decode()
    links = linked_counts(html)
    assert len(links) >= 8
    for url, count in links:
        assert list_count(client, url) == count, url
    for url, count in _API_COUNT.findall(html):
        assert client.get(url.replace("&amp;", "&")).json()["count"] == int(count), url


def test_the_overview_states_the_rule_and_the_cost_method(client, tempting):
    client.force_login(viewer())
    html = client.get(reverse("home")).content.decode()
    assert "Who counts what." in html and "“shared” row" in html
    assert "How this is estimated." in html and "SPOT: the spot price" in html
    assert "not in the totals" in html  # unknown prices are said, not summed as 0
    assert 'id="usage-shared"' in html and 'id="usage-none"' in html


def test_a_bad_bucket_value_is_an_error_on_the_list_not_a_500(client, tempting):
    client.force_login(viewer())
    response = client.get(reverse("machine_list") + "?vitistack=<script>")
    assert response.status_code == 200
    assert list_count(client, reverse("machine_list") + "?vitistack=<script>") == 0


def test_no_silent_cut_the_usage_table_says_first_n_of_m_and_links_to_all(client, monkeypatch):
    from vitiweb import overview

    cluster = current_cluster("many")
    mirror(cluster, *[stack(f"s-{i:03d}") for i in range(7)])
    monkeypatch.setattr(overview, "STACKS_SHOWN", 5)
    client.force_login(viewer())
    html = client.get(reverse("home")).content.decode()
    assert "The first 5 of 7 Vitistacks by name." in html and "?stacks=all" in html
    html = client.get(reverse("home") + "?stacks=all").content.decode()
    assert all(f"s-{i:03d}" in html for i in range(7))


# -- the published API's rule ---------------------------------------------------------------------------------


def published_stack(name, mps=(), kps=(), clusters=(), spec_mps=(), max_machines=None):
    """A cluster-scoped Vitistack as the VitiStack operator fills it in: associations in its status lists."""
    spec = {"displayName": name, "region": "norway-east", "zone": "osl1", "infrastructure": "prod"}
    if spec_mps:
        spec["machineProviders"] = [{"name": n, "priority": 1} for n in spec_mps]
    if max_machines:
        spec["resourceQuotas"] = {"maxMachines": max_machines}
    listed = {
        "phase": "Ready",
        "machineProviders": [{"name": n, "providerType": "kubevirt"} for n in mps],
        "kubernetesProviders": [{"name": n, "providerType": "talos"} for n in kps],
        "clusters": [{"name": n, "namespace": "team"} for n in clusters],
    }
    return k8s_object("Vitistack", name, namespace="", spec=spec, status=listed)


def kubernetes_cluster(name, cluster_id):
    data = {"clusterId": cluster_id, "clusterUid": f"uid-{name}", "datacenter": "osl1", "environment": "prod"}
    return k8s_object("KubernetesCluster", name, namespace="team", spec={"data": {**data, "networkNamespaceName": "n"}})


def published_machine(name, cluster_id=None, namespace="team"):
    labels = {"vitistack.io/clusterid": cluster_id} if cluster_id else None
    spec = {"name": name, "provider": "kubevirt", "machineClass": "medium"}
    return k8s_object("Machine", name, namespace=namespace, spec=spec, labels=labels, status=status("Running", True))


def published_fleet():
    """A published-shape cluster built to tempt double counting.

    viti-a and viti-b both report mp-both, kp-both and the cluster kc-both; viti-a lists mp-a in its spec
    and its status (one stack, twice); no cluster is named after its clusterId (a rule reading the name would
    place no machine); kc-none is listed by no stack; one machine names a cluster id that does not exist, one
    has no label, one carries kc-a's id in another namespace.
    """
    oslo = current_cluster("oslo")
    mirror(
        oslo,
        published_stack(
            "viti-a", mps=["mp-a", "mp-both"], kps=["kp-both"], clusters=["kc-a", "kc-both"], spec_mps=["mp-a"]
        ),
        published_stack("viti-b", mps=["mp-both"], kps=["kp-both"], clusters=["kc-b", "kc-both"], max_machines=2),
        *[
            k8s_object("MachineProvider", n, namespace="", spec={"providerType": "kubevirt"})
            for n in ("mp-a", "mp-both", "mp-none")
        ],
        k8s_object(
            "KubernetesProvider",
            "kp-both",
            namespace="",
            spec={
                "providerType": "talos",
                "machineProviderRef": {"name": "mp-both"},
                "nodePools": [{"name": "workers", "machineClass": "medium", "desiredNodes": 3}],
            },
        ),
        k8s_object("KubernetesProvider", "kp-none", namespace="", spec={"providerType": "talos"}),
        kubernetes_cluster("kc-a", "id-a"),
        kubernetes_cluster("kc-b", "id-b"),
        kubernetes_cluster("kc-both", "id-both"),
        kubernetes_cluster("kc-none", "id-none"),
        *[published_machine(f"a-{i}", "id-a") for i in range(3)],
        *[published_machine(f"b-{i}", "id-b") for i in range(2)],
        *[published_machine(f"both-{i}", "id-both") for i in range(2)],
        published_machine("none-0", "id-none"),
        published_machine("missing-0", "id-missing"),
        published_machine("unlabelled"),
        published_machine("elsewhere", "id-a", namespace="other"),
    )
    return oslo


def test_published_machines_count_through_their_kubernetes_cluster_once_on_a_mixed_fleet(tempting):
    oslo = published_fleet()
    fleet = Fleet()
    buckets = fleet.buckets()
    parts = list(buckets.values())
    # The guide-shaped clusters' 13 machines and the published cluster's 11, each counted once.
    assert sum(b.machines for b in parts) == Machine.objects.count() == 24
    assert sum(b.machine_providers for b in parts) == MachineProvider.objects.count() == 6
    assert sum(b.kubernetes_providers for b in parts) == KubernetesProvider.objects.count() == 5
    assert sum(b.node_groups for b in parts) == NodeGroup.objects.count() == 4

    a, b = by_key(buckets, "viti-a"), by_key(buckets, "viti-b")
    assert (a.machines, a.machine_providers, a.kubernetes_providers) == (3, 1, 0)
    assert (b.machines, b.machine_providers, b.kubernetes_providers) == (2, 0, 0)
    in_oslo = Machine.objects.filter(cluster=oslo)
    shared = fleet.machines_in(in_oslo, SHARED)
    assert sorted(shared.values_list("name", flat=True)) == ["both-0", "both-1"]
    assert sorted(fleet.machines_in(in_oslo, UNATTRIBUTED).values_list("name", flat=True)) == [
        "elsewhere",
        "missing-0",
        "none-0",
        "unlabelled",
    ]
    assert {Vitistack.objects.get(pk=pk).name for pk in buckets[SHARED].sharing} >= {"viti-a", "viti-b"}
    # No price is known in the published API: unknown, not 0.
    assert a.cost == 0 and a.unpriced_machines == 3

    # Each bucket's filter lists exactly its machines, and no machine is listed in two buckets.
    listed = 0
    for key, bucket in buckets.items():
        found = fleet.machines_in(Machine.objects.all(), key).count()
        assert found == bucket.machines, key
        listed += found
    assert listed == Machine.objects.count()


def test_the_overview_states_the_published_rule(client, tempting):
    published_fleet()
    client.force_login(viewer())
    html = client.get(reverse("home")).content.decode()
    assert "Published API:" in html and "status.clusters[]" in html and "spec.data.clusterId" in html
    assert "Guide&#x27;s shape:" in html or "Guide's shape:" in html
