"""The pictures: what each view draws from the examples, how large fleets fold, that
cluster text is escaped, and who may see them."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from tests.topology.conftest import aws, load, machine, machine_provider, stack
from vitiweb.fleet import Fleet
from vitiweb.integrity import current_findings
from vitiweb.roles import VIEWER
from vitiweb.topology.builders import Options, build_picture, effective_policies
from vitiweb.topology.figure import build_figure
from vitiweb.topology.graph import layout

pytestmark = pytest.mark.django_db


def picture(view, **options):
    return build_picture(view, Fleet(), current_findings(), Options(**options))


def labels(graph):
    return {node.label for node in graph.nodes.values()}


def edges(graph):
    return {(graph.nodes[e.source].label, graph.nodes[e.target].label, e.label, e.style) for e in graph.edges}


def stack_id(name):
    return next(obj.id for obj in Fleet().stacks.values() if obj.name == name)


# -- what each view draws ---------------------------------------------------------------------------------


def test_hierarchy_draws_the_global_stack_its_child_and_the_children_that_do_not_exist(examples):
    graph = picture("hierarchy").graph
    assert labels(graph) == {"global-vitistack", "us-vitistack", "eu-vitistack", "asia-vitistack"}
    assert ("global-vitistack", "us-vitistack", "inherits", "declared") in edges(graph)
    assert ("global-vitistack", "eu-vitistack", "", "dangling") in edges(graph)
    us = next(n for n in graph.nodes.values() if n.label == "us-vitistack")
    assert us.sublabel == "machines 0/500 (0%)"
    glob = next(n for n in graph.nodes.values() if n.label == "global-vitistack")
    assert "Σ children 500/1000" in glob.sublabel
    assert "children's max machines 500 of global 1000" in glob.hover


def test_a_child_that_inherits_gets_its_ancestors_policies_marked_with_their_source(examples):
    fleet = Fleet()
    us = next(obj for obj in fleet.stacks.values() if obj.name == "us-vitistack")
    policies = {item["path"]: item for item in effective_policies(fleet, us)}
    assert policies["security.enforceEncryption"]["value"] is True
    assert policies["resourceLimits.globalMaxMachines"]["source"].name == "global-vitistack"
    assert all(item["inherited"] for item in policies.values())


def test_a_childs_own_policy_overrides_the_inherited_one(cluster):
    load(
        cluster,
        stack("global", childVitistacks=[{"name": "us"}], globalPolicies={"security": {"requireMFA": True}}),
        stack(
            "us",
            parentVitistack={"name": "global"},
            inheritPolicies=True,
            globalPolicies={"security": {"requireMFA": False}},
        ),
        stack("eu", parentVitistack={"name": "global"}),
    )
    fleet = Fleet()
    us = next(obj for obj in fleet.stacks.values() if obj.name == "us")
    [policy] = effective_policies(fleet, us)
    assert policy["value"] is False and not policy["inherited"] and policy["overrides"][0].name == "global"
    eu = next(obj for obj in fleet.stacks.values() if obj.name == "eu")
    assert effective_policies(fleet, eu) == []  # it does not inherit


def test_disaster_recovery_labels_the_edge_with_mode_rpo_and_rto_and_verifies_the_secondary(examples):
    pic = picture("dr")
    [(primary, secondary, label, style)] = edges(pic.graph)
    assert (primary, secondary, label) == ("primary-vitistack", "secondary-vitistack", "async · RPO 1h · RTO 30m")
    assert style == "mismatch"  # declared region us-east-1, the secondary is in east-us
    [row] = pic.tables[0].rows
    assert row[-2:] == ["disaster-recovery", "verified"]


def test_edge_view_labels_connectivity_and_shows_autonomy_and_use_against_limits(examples):
    pic = picture("edge")
    assert ("central-management", "edge-west", "satellite · 100Mbps · 500ms", "one-sided") in edges(pic.graph)
    assert ("central-management", "edge-east", "us-east", "dangling") in edges(pic.graph)
    edge_west = next(n for n in pic.graph.nodes.values() if n.label == "edge-west" and n.pk)
    assert edge_west.sublabel == "autonomous, offline ≤ 1h · machines 0/10 (0%)"
    row = next(r for r in pic.tables[0].rows if isinstance(r[1], dict))
    assert row[3:7] == ["satellite", "100Mbps", "500ms", "autonomous, offline ≤ 1h"]


def test_an_edge_location_that_does_not_exist_hangs_from_its_central_stack(cluster):
    load(
        cluster,
        stack("hub", edgeManagement={"enabled": True, "edgeLocations": [{"name": "nowhere", "region": "eu-north"}]}),
    )
    pic = picture("edge")
    assert edges(pic.graph) == {("hub", "nowhere", "eu-north", "dangling")}
    [edge] = pic.graph.edges
    assert pic.graph.nodes[edge.source].pk == stack_id("hub")
    assert pic.tables[0].rows[0][-1] == "central only (target missing)"


def test_composition_goes_from_the_stack_to_providers_node_groups_and_machines(examples):
    graph = picture("composition", stack=stack_id("aws-production")).graph
    assert labels(graph) == {
        "aws-production",
        "aws-ec2-provider",
        "aws-eks-provider",
        "system-nodes",
        "worker-nodes",
        "bastion-host",
    }
    assert ("aws-production", "aws-ec2-provider", "priority 1", "declared") in edges(graph)
    assert ("aws-ec2-provider", "worker-nodes", "nodes: m5.xlarge", "secondary") in edges(graph)
    bastion = next(n for n in graph.nodes.values() if n.label == "bastion-host")
    assert bastion.severity == "error"  # t3.micro


def test_failover_shows_the_chain_with_priority_and_conditions(examples):
    graph = picture("failover").graph
    assert edges(graph) == {
        ("primary-provider", "secondary-provider", "priority 2 · if ProviderHealthy=False", "dangling")
    }


def test_sharing_shows_providers_shared_with_stacks_that_do_not_list_them(examples):
    graph = picture("sharing").graph
    assert edges(graph) == {
        ("shared-storage-provider", "primary-vitistack", "shared, not listed", "one-sided"),
        ("shared-storage-provider", "secondary-vitistack", "shared, not listed", "one-sided"),
    }


def test_blast_radius_of_a_provider_reaches_its_machines_node_groups_and_stacks(examples):
    provider = next(obj for obj in Fleet().machine_providers.values() if obj.name == "aws-ec2-provider")
    pic = picture("blast-radius", kind="MachineProvider", pk=provider.id)
    assert labels(pic.graph) == {"aws-ec2-provider", "bastion-host", "aws-eks-provider", "aws-production"}
    assert (
        "aws-ec2-provider",
        "aws-eks-provider",
        "node group system-nodes, node group worker-nodes",
        "declared",
    ) in edges(pic.graph)
    assert sorted(pic.tables[0].rows) == [["KubernetesProvider", "1"], ["Machine", "1"], ["Vitistack", "1"]]


def test_blast_radius_of_a_global_stack_reaches_its_children(examples):
    pic = picture("blast-radius", kind="Vitistack", pk=stack_id("global-vitistack"))
    assert labels(pic.graph) == {"global-vitistack", "us-vitistack"}


# -- large fleets, layout and escaping ------------------------------------------------------------------------


def many_children(cluster, count=12):
    children = [stack(f"child-{i}", parentVitistack={"name": "root"}) for i in range(count)]
    load(cluster, stack("root", childVitistacks=[{"name": f"child-{i}"} for i in range(count)]), *children)


def test_siblings_in_the_same_state_collapse_into_one_counted_node(cluster):
    many_children(cluster)
    graph = picture("hierarchy").graph
    assert len(graph.nodes) == 2
    group = next(n for n in graph.nodes.values() if n.count > 1)
    assert (group.count, group.label) == (12, "12 × Vitistack")
    expanded = picture("hierarchy", expanded={group.expand}).graph
    assert len(expanded.nodes) == 13


def test_the_query_keeps_only_the_parts_that_match(examples):
    graph = picture("hierarchy", query="asia").graph
    assert "asia-vitistack" in labels(graph) and "global-vitistack" in labels(graph)
    assert picture("dr", query="nothing-like-this").graph.nodes == {}


def test_layers_run_top_down_for_trees(examples):
    pic = picture("hierarchy")
    placement = layout(pic.graph, pic.direction)
    by_label = {node.label: placement.positions[key] for key, node in pic.graph.nodes.items()}
    assert by_label["global-vitistack"][1] < by_label["us-vitistack"][1]
    assert len(placement.routes) == len(pic.graph.edges)


def test_chains_run_left_to_right(examples):
    pic = picture("dr")
    placement = layout(pic.graph, pic.direction)
    by_label = {node.label: placement.positions[key] for key, node in pic.graph.nodes.items()}
    assert by_label["primary-vitistack"][0] < by_label["secondary-vitistack"][0]


def test_cluster_text_is_escaped_in_labels_and_hover(cluster):
    hostile = "<img src=x onerror=alert(1)>"
    load(
        cluster,
        stack("s", region=hostile, machineProviders=[{"name": "ec2", "priority": 1}]),
        machine_provider("ec2", region=hostile, aws=aws()),
        machine("m", instanceType="<b>x</b>", machineImage="ubuntu"),
    )
    pic = picture("composition", stack=stack_id("s"))
    figure = build_figure(pic.graph, layout(pic.graph, pic.direction), pic.direction)
    text = repr(figure)
    assert "<img" not in text and "<b>x" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_the_figure_carries_one_node_trace_per_state_and_the_click_data(examples):
    pic = picture("hierarchy")
    figure = build_figure(pic.graph, layout(pic.graph, pic.direction), pic.direction)
    node_traces = [trace for trace in figure["data"] if "customdata" in trace]
    assert {trace["meta"]["state"] for trace in node_traces} == {"unknown", "missing"}
    panel_urls = [data[0] for trace in node_traces for data in trace["customdata"]]
    assert all(url.startswith("/topology/panel/") for url in panel_urls)


# -- pages and permissions ------------------------------------------------------------------------------------


@pytest.fixture
def viewer(db):
    user = User.objects.create_user("viewer", password="pw-for-tests-1")
    user.groups.add(Group.objects.get(name=VIEWER))
    return user


@pytest.mark.parametrize("view", ["hierarchy", "dr", "edge", "composition", "failover", "sharing", "blast-radius"])
def test_every_view_renders_for_a_viewer_with_its_figure_embedded_and_refetchable(client, examples, viewer, view):
    client.force_login(viewer)
    response = client.get(reverse("topology:view", args=[view]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="topology-figure-data"' in html and 'id="side-panel"' in html
    assert f'data-figure-url="/topology/{view}/figure.json' in html
    figure = client.get(reverse("topology:figure", args=[view])).json()
    assert "data" in figure and "layout" in figure and "build_ms" in figure["meta"]


def test_pages_need_a_login_and_the_view_permissions(client, examples):
    url = reverse("topology:view", args=["hierarchy"])
    assert client.get(url).status_code == 302
    client.force_login(User.objects.create_user("nobody", password="pw-for-tests-1"))
    assert client.get(url).status_code == 403
    assert client.get(reverse("topology:findings")).status_code == 403


def test_the_side_panel_summarises_an_object_with_its_findings_and_links(client, examples, viewer):
    client.force_login(viewer)
    response = client.get(reverse("topology:panel", args=["Vitistack", stack_id("us-vitistack")]))
    html = response.content.decode()
    assert "us-vitistack" in html and "Effective policies (inherited)" in html
    # Three about its relationships, two about the guide's naming and labelling conventions.
    assert "/topology/blast-radius/?kind=Vitistack" in html and "Findings (5)" in html


def test_the_side_panel_of_a_missing_object_names_who_references_it(client, examples, viewer):
    client.force_login(viewer)
    response = client.get(
        reverse("topology:panel_missing"), {"kind": "Vitistack", "namespace": "edge-system", "name": "edge-west"}
    )
    html = response.content.decode()
    assert "central-management" in html and "edge-west/edge-west" in html


def test_a_side_panel_past_its_length_says_how_many_and_where_the_rest_are(client, cluster, viewer):
    """A stack with 51 missing children, and a missing stack named by 51 others: 50 are listed."""
    load(
        cluster,
        stack("big", childVitistacks=[{"name": f"child-{i:02}"} for i in range(51)]),
        *(stack(f"orphan-{i:02}", parentVitistack={"name": "ghost"}) for i in range(51)),
    )
    client.force_login(viewer)
    html = client.get(reverse("topology:panel", args=["Vitistack", stack_id("big")])).content.decode()
    assert html.count('<span class="badge ref-') == 50
    assert "First 50 of 51: all of them on" in html and f'href="/vitistacks/{stack_id("big")}/"' in html

    response = client.get(
        reverse("topology:panel_missing"), {"kind": "Vitistack", "namespace": "production", "name": "ghost"}
    )
    html = response.content.decode()
    assert html.count("orphan-") == 50 and "First 50 of 51: all of them in" in html
    findings_url = response.context["findings_url"]
    listed = client.get(findings_url).context
    assert listed["shown_count"] == 51  # the findings page has every one of them


def test_the_findings_page_filters_by_severity_check_and_text(client, examples, viewer):
    client.force_login(viewer)
    url = reverse("topology:findings")
    # The 30 of the guide's inconsistencies, and 16 about its naming and labelling conventions.
    assert client.get(url).context["shown_count"] == 46
    assert client.get(url, {"severity": "error"}).context["shown_count"] == 11
    assert client.get(url, {"check": "missing-secret"}).context["shown_count"] == 1
    assert client.get(url, {"check": "naming-convention"}).context["shown_count"] == 7
    assert client.get(url, {"q": "bastion"}).context["shown_count"] == 4
    fragment = client.get(url, {"severity": "warning"}, headers={"HX-Request": "true", "HX-Target": "findings-results"})
    assert fragment.content.decode().lstrip().startswith('<div id="findings-results"')


def test_the_object_findings_panel_and_the_overview_summary_render(client, examples, viewer):
    from django.template import Context, Template

    from machines.models import Machine

    bastion = Machine.objects.get(name="bastion-host")
    html = Template("{% load topology_tags %}{% object_findings obj %}{% findings_summary %}").render(
        Context({"obj": bastion})
    )
    assert "t3.micro" in html and 'id="object-findings"' in html and 'id="findings-summary"' in html
    client.force_login(viewer)
    assert "t3.micro" in client.get(reverse("topology:object_findings", args=["Machine", bastion.pk])).content.decode()
    assert client.get(reverse("topology:summary")).status_code == 200


def test_many_healthy_chains_fold_into_one_node_and_problem_chains_stay(cluster):
    ready = {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}
    providers = []
    for i in range(35):
        spec = {"type": "aws", "aws": aws(), "failover": {"targets": [{"name": f"b-{i}"}]}}
        providers += [
            dict(machine_provider(f"a-{i}", **spec), status=ready),
            dict(machine_provider(f"b-{i}", aws=aws()), status=ready),
        ]
    providers.append(machine_provider("broken", aws=aws(), failover={"targets": [{"name": "nowhere"}]}))
    load(cluster, *providers, stack("s", machineProviders=[{"name": p["metadata"]["name"]} for p in providers]))
    pic = picture("failover")
    assert labels(pic.graph) == {"35 healthy failover chains", "broken", "nowhere"}
    assert len(picture("failover", expanded={"healthy"}).graph.nodes) == 72


def test_a_chain_is_laid_out_one_node_per_layer(cluster):
    load(
        cluster,
        machine_provider("a", failover={"targets": [{"name": "b"}]}),
        machine_provider("b", failover={"targets": [{"name": "c"}]}),
        machine_provider("c"),
    )
    pic = picture("failover")
    placement = layout(pic.graph, pic.direction)
    xs = [
        placement.positions[f"MachineProvider:{obj.id}"][0]
        for obj in sorted(Fleet().machine_providers.values(), key=lambda o: o.name)
    ]
    assert xs == sorted(xs) and len(set(xs)) == 3
