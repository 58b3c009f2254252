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
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from machines.models import Machine
from providers.models import KubernetesProvider, MachineProvider, NodeGroup
from stacks.models import Vitistack
from tests.factories import k8s_object, make_cluster, mirror, status, viewer
from vitiweb.attribution import NODE_GROUP_LABEL, SHARED, UNATTRIBUTED, Fleet
from vitiweb.models import Cluster, JournalEntry

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
#
# A number on the overview or the cluster page is a link carrying what it claims: ``data-count`` (the list it
# opens shows that many rows), ``data-sum`` (the cost page it opens adds up to that sum) or ``data-api-count``
# (the API list it opens counts that many). Any other number must sit inside an element that says why it is
# not a count (``data-not-a-count``, one of NOT_A_COUNT), or inside <time>: a new number that is neither
# fails ``numbers_on``.

NOT_A_COUNT = {
    "age",  # how long ago
    "version",  # a Kubernetes version
    "address",  # a server URL
    "limit",  # a quota read from a spec (it links to its object)
    "list cut",  # "the first N (of M)": N is how many a list shows; the way to the rest is beside it
    "object text",  # names, messages and errors from the clusters
    "connection settings",  # a cluster's connection: server, context, timestamps, lag
}
LINKED = ("data-count", "data-sum", "data-api-count")
_NUMBER = re.compile(r"(?<![\w.\-/:#&])\$?\d[\d,]*(?:\.\d+)?(?![\w\-:])")
_VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base", "embed", "track"}
# Object lists say id="result-count"; the findings page class="result-count".
_RESULT = re.compile(r'(?:id|class)="result-count"><strong>(\d+)</strong>')
_SUM = re.compile(r'id="result-sum" data-sum="([\d.]+)"')


class NumberScan(HTMLParser):
    """The numbers of a page's <main>: linked ones (with their attributes and text) and the others."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict, list]] = []
        self.links: list[tuple[dict, str]] = []
        self.unlinked: list[tuple[str, str]] = []
        self.reasons: set[str] = set()

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID:
            self.stack.append((tag, dict(attrs), []))

    def handle_endtag(self, tag):
        if tag not in {t for t, _, _ in self.stack}:
            return
        while self.stack:
            name, attrs, text = self.stack.pop()
            joined = "".join(text)
            if self.stack:
                self.stack[-1][2].append(joined)
            if any(key in attrs for key in LINKED):
                self.links.append((attrs, joined))
            if name == tag:
                break

    def handle_data(self, data):
        if not self.stack:
            return
        self.stack[-1][2].append(data)
        tags = {name for name, _, _ in self.stack}
        if "main" not in tags or tags & {"script", "style", "time"}:
            return
        if any(key in attrs for _, attrs, _ in self.stack for key in LINKED):
            return
        reasons = {attrs["data-not-a-count"] for _, attrs, _ in self.stack if "data-not-a-count" in attrs}
        for match in _NUMBER.finditer(data):
            if reasons:
                self.reasons |= reasons
            else:
                self.unlinked.append((match.group(), " ".join(data.split())[:80]))


def numbers_on(html: str) -> NumberScan:
    scan = NumberScan()
    scan.feed(html)
    scan.close()
    assert not scan.unlinked, f"numbers that link to no rows and say not why: {scan.unlinked}"
    assert scan.reasons <= NOT_A_COUNT, scan.reasons - NOT_A_COUNT
    for attrs, text in scan.links:
        # The number a link shows is the number it claims.
        shown = _NUMBER.search(text)
        assert shown, (attrs, text)
        value = float(shown.group().lstrip("$").replace(",", ""))
        if "data-sum" in attrs:
            assert value == pytest.approx(float(attrs["data-sum"]), abs=0.0051), (attrs, text)
        else:
            assert value == int(attrs.get("data-count") or attrs["data-api-count"]), (attrs, text)
    return scan


def linked_counts(html: str) -> list[tuple[str, int]]:
    return [(a["href"], int(a["data-count"])) for a, _ in numbers_on(html).links if "data-count" in a]


def page_figure(client, url: str, cache: dict, pattern=_RESULT) -> str:
    if (url, pattern) not in cache:
        # As htmx asks a list for its results: the same partial the full page includes, without the page
        # around it (a third of the time; the link-follow tests open well over a hundred lists).
        response = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
        assert response.status_code == 200, url
        match = pattern.search(response.content.decode())
        assert match, f"{url} shows no {pattern.pattern}"
        cache[(url, pattern)] = match[1]
    return cache[(url, pattern)]


def list_count(client, url: str, cache=None) -> int:
    return int(page_figure(client, url, {} if cache is None else cache))


def follow_every_number(client, html: str) -> int:
    """Open every linked number's page and compare; how many links were followed."""
    scan, cache = numbers_on(html), {}
    for attrs, _ in scan.links:
        url = attrs["href"]
        if "data-count" in attrs:
            assert int(page_figure(client, url, cache)) == int(attrs["data-count"]), url
        elif "data-sum" in attrs:
            assert float(page_figure(client, url, cache, _SUM)) == pytest.approx(float(attrs["data-sum"])), url
        else:
            assert client.get(url).json()["count"] == int(attrs["data-api-count"]), url
    return len(scan.links)


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def figure(html, element_id):
    start = html.index(f'<script id="{element_id}" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def unhealthy_cluster():
    """A cluster that stopped answering, with an error full of numbers that are not counts."""
    return make_cluster(
        "south",
        state=Cluster.State.UNREACHABLE,
        server="https://10.0.0.1:6443",
        server_version="1.29.4",
        last_error="dial tcp 10.0.0.1:6443: 3 retries, connect: connection refused",
        last_sync_at=timezone.now() - timedelta(minutes=14),
    )


def test_every_number_on_the_overview_links_to_exactly_its_rows(client, tempting):
    from gitops.models import DriftRecord, GitSource

    east, _ = tempting
    south = unhealthy_cluster()
    mirror(south, stack("stale", mps=["mp-s"]), k8s_object("MachineProvider", "mp-s", spec=priced()))
    fleet_repo = GitSource.objects.create(name="fleet", url="https://git.example/fleet.git")
    GitSource.objects.create(name="broken", url="https://git.example/broken.git", last_error="revision 3 unusable")
    for name, state in (("plain", "differs"), ("tiny", "differs"), ("gone", "git-only")):
        DriftRecord.objects.create(source=fleet_repo, cluster=east, kind="Machine", name=name, state=state)
    client.force_login(viewer())
    html = client.get(reverse("home")).content.decode()
    # Kind totals, phases, readiness, clusters (current, unhealthy), per-cluster counts, each bucket's quota,
    # cost and node-group figures, the total row, every chart bar (in its table of numbers), findings.
    assert follow_every_number(client, html) > 80
    scan = numbers_on(html)
    assert {"age", "limit", "object text"} <= scan.reasons  # the fleet above shows each kind of non-count

    # The usage table's total row counts every machine; each chart bar carries the URL of its rows.
    total = {url: count for url, count in linked_counts(html) if "vitistack=" not in url}
    assert total[reverse("machine_list")] == Machine.objects.count()
    buckets = {b.label: b for b in Fleet().buckets().values()}
    machines_trace, groups_trace = figure(html, "fig-cost")["data"]
    for label, value, url in zip(machines_trace["y"], machines_trace["x"], machines_trace["customdata"], strict=True):
        assert value == pytest.approx(buckets[label].machine_cost, abs=0.001)
        assert float(page_figure(client, url, {}, _SUM)) == pytest.approx(buckets[label].machine_cost), url
    for label, url in zip(groups_trace["y"], groups_trace["customdata"], strict=True):
        assert float(page_figure(client, url, {}, _SUM)) == pytest.approx(buckets[label].nodegroup_cost), url


def test_an_unlinked_number_fails_the_scan():
    with pytest.raises(AssertionError, match="numbers that link to no rows"):
        numbers_on("<main><p>3 clusters unhealthy</p></main>")
    with pytest.raises(AssertionError):
        numbers_on('<main><a href="/x" data-count="3">4 machines</a></main>')  # says 4, claims 3
    with pytest.raises(AssertionError):
        numbers_on('<main><span data-not-a-count="because">3</span></main>')  # no known reason
    numbers_on('<main><a href="/x" data-count="3">3 machines</a> s-001 m5.large <time>4 min</time></main>')


def test_every_number_on_the_cluster_page_links_to_exactly_its_rows(client, tempting):
    east, _ = tempting
    south = unhealthy_cluster()
    client.force_login(viewer())
    html = client.get(reverse("cluster_detail", args=[east.pk])).content.decode()
    assert follow_every_number(client, html) >= 8
    html = client.get(reverse("cluster_detail", args=[south.pk])).content.decode()
    follow_every_number(client, html)
    assert {"version", "object text"} <= numbers_on(html).reasons


def test_the_cluster_page_says_which_changes_of_how_many_it_shows(client, tempting):
    east, _ = tempting
    client.force_login(viewer())
    html = client.get(reverse("cluster_detail", args=[east.pk])).content.decode()
    total = JournalEntry.objects.filter(cluster=east).count()
    assert total > 15 and f"Changes 1–15 of {total}" in text_of(html) and "changes-page=2" in html
    older = client.get(reverse("cluster_detail", args=[east.pk]) + "?changes-page=2").content.decode()
    assert f"Changes 16–{min(total, 30)} of {total}" in text_of(older)


def test_the_cost_page_lists_exactly_the_items_of_each_cost_figure(client, tempting):
    client.force_login(viewer())
    fleet = Fleet()
    for key, bucket in fleet.buckets().items():
        html = client.get(reverse("cost_list") + f"?vitistack={key}").content.decode()
        assert float(_SUM.search(html)[1]) == pytest.approx(bucket.cost), key
        assert int(_RESULT.search(html)[1]) == bucket.priced_machines + bucket.unpriced_machines + bucket.node_groups
    alpha = by_key(fleet.buckets(), "alpha")
    html = client.get(reverse("cost_list") + f"?vitistack={alpha.key}&part=node-groups").content.decode()
    assert "ng-a" in html and "ng-b" in html and "plain" not in html
    assert "unknown" in html  # ng-b: SPOT without a spot price
    # Each node group's "nodes found" opens the Machines labelled as its nodes.
    follow = re.search(r'href="([^"]+label=[^"]+ng-a[^"]*)">3<', html)
    assert follow and list_count(client, follow[1].replace("&amp;", "&")) == 3
    response = client.get(reverse("cost_list") + "?vitistack=<script>")
    assert response.status_code == 200 and "Give a Vitistack" in response.content.decode()


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
    assert "The first 5 of 7 Vitistacks by name." in text_of(html) and "?stacks=all" in html
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
