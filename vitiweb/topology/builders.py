"""One builder per picture: which objects and relationships it draws, and how they read.

Each builder takes the fleet (``Fleet``), the findings (to outline nodes that
have some) and the request's options, and returns a ``Picture``: the graph,
its direction, and the tables shown under it (the same facts as text, for
reading, copying and screen readers).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from vitiweb import registry
from vitiweb.fleet import (
    KUBERNETES_PROVIDER,
    MACHINE,
    MACHINE_PROVIDER,
    READY,
    VITISTACK,
    Fleet,
    Obj,
    Ref,
    load_refs,
    state_of,
)
from vitiweb.integrity import SEVERITY_RANK, FindingIndex
from vitiweb.integrity.checks import edge_links, global_limits, hierarchy_edges
from vitiweb.spec import as_dict, as_int
from vitiweb.topology.graph import (
    DANGLING,
    DEPENDS,
    LEFT_RIGHT,
    MISMATCH,
    ONE_SIDED,
    SOLID,
    TOP_DOWN,
    Edge,
    Graph,
    Node,
    collapse,
    fold_healthy_components,
    missing_node,
)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)  # cells: str, or {"text", "url"} for links


@dataclass
class Picture:
    graph: Graph
    direction: str
    title: str
    empty_text: str = ""
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Options:
    expanded: set[str] = field(default_factory=set)
    query: str = ""
    stack: int | None = None
    kind: str = ""
    pk: int | None = None


def percent(used, limit) -> str:
    if not limit:
        return f"{used}"
    return f"{used}/{limit} ({round(100 * used / limit)}%)"


def link(obj: Obj | None, text: str | None = None):
    from vitiweb.fleet import detail_url

    if obj is None:
        return text or ""
    return {"text": text or obj.address, "url": detail_url(obj.kind, obj.id)}


class Builder:
    def __init__(self, fleet: Fleet, findings: FindingIndex, options: Options):
        self.fleet, self.findings, self.options = fleet, findings, options
        self.graph = Graph()

    def cluster(self, obj: Obj) -> str:
        return self.fleet.clusters.get(obj.cluster_id, "?")

    def node(self, obj: Obj, sublabel: str = "", hover: list[str] | None = None, state: str | None = None) -> Node:
        findings = self.findings.by_object.get(obj.key, [])
        severity = min((f.severity for f in findings), key=SEVERITY_RANK.get) if findings else None
        lines = [f"{obj.address} · cluster {self.cluster(obj)}"]
        phase = obj.phase or "no status reported"
        lines.append(f"phase {phase}" + ("" if obj.ready is None else f" · ready {str(obj.ready).lower()}"))
        lines += hover or []
        if findings:
            lines.append(f"{len(findings)} finding(s), worst {severity}")
        return self.graph.add_node(
            Node(obj.key, obj.kind, obj.name, state or obj.state, obj.id, sublabel, lines, severity)
        )

    def missing(self, ref: Ref) -> Node:
        source = self.fleet.get(ref.source_kind, ref.source_id)
        who = f"named by {source.kind} {source.address} at {ref.path}" if source else f"named at {ref.path}"
        return self.graph.add_node(missing_node(ref.target_kind, ref.target_namespace, ref.target_name, [who]))

    def target_node(self, ref: Ref, objects: dict, describe) -> Node | None:
        if ref.resolved and ref.target_id in objects:
            obj = objects[ref.target_id]
            return self.node(obj, *describe(obj))
        if ref.resolved:
            return None
        return self.missing(ref)


def stack_sublabel(fleet: Fleet, stack: Obj) -> str:
    usage = fleet.shown_stack_usage(stack.id)
    if stack.max_machines:
        return f"machines {percent(usage['machines'], stack.max_machines)}"
    return stack.role or stack.region or ""


def stack_hover(fleet: Fleet, stack: Obj) -> list[str]:
    usage = fleet.shown_stack_usage(stack.id)
    lines = [f"role {stack.role or '—'} · region {stack.region or '—'}"]
    quotas = []
    for label, used, limit in (
        ("machines", usage["machines"], stack.max_machines),
        ("clusters", usage["clusters"], stack.max_clusters),
        ("providers", usage["providers"], stack.max_providers),
    ):
        if limit is not None:
            quotas.append(f"{label} {percent(used, limit)}")
    if quotas:
        lines.append("quota used: " + ", ".join(quotas))
    if usage["node_group_nodes"]:
        lines.append(f"node groups want {usage['node_group_nodes']} more nodes")
    return lines


# -- hierarchy --------------------------------------------------------------------------------------------


def effective_policies(fleet: Fleet, stack: Obj) -> list[dict]:
    """The stack's policies: its own globalPolicies over its ancestors' (when it inherits), each leaf with its source.

    Returns ``[{"path", "value", "source": Obj, "inherited": bool, "overrides": [Obj]}]`` sorted by path.
    """
    parents = _parents(fleet)
    chain, seen, current = [], set(), stack
    while current is not None and current.id not in seen:
        seen.add(current.id)
        chain.append(current)
        if current.spec.get("inheritPolicies") is not True:
            break
        current = parents.get(current.id)
    values: dict[str, dict] = {}
    for ancestor in reversed(chain):  # the root first, so nearer stacks override
        for path, value in _leaves(as_dict(ancestor.spec.get("globalPolicies"))):
            previous = values.get(path)
            values[path] = {
                "path": path,
                "value": value,
                "source": ancestor,
                "inherited": ancestor.id != stack.id,
                "overrides": ([previous["source"], *previous["overrides"]] if previous else []),
            }
    return [values[key] for key in sorted(values)]


def _leaves(value, prefix=""):
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif prefix:
        yield prefix, value


def _parents(fleet: Fleet) -> dict[int, Obj]:
    return fleet.memo("parents", lambda: _compute_parents(fleet))


def _compute_parents(fleet: Fleet) -> dict[int, Obj]:
    parents = {}
    for parent, children in hierarchy_edges(fleet).items():
        for child in children:
            parents.setdefault(child, fleet.stacks[parent])
    # A child's own parentVitistack wins over a parent's claim.
    for ref in fleet.refs("parent"):
        if ref.resolved and ref.target_id in fleet.stacks:
            parents[ref.source_id] = fleet.stacks[ref.target_id]
    return parents


class HierarchyBuilder(Builder):
    title = "Hierarchy: global → regional → child Vitistacks"

    def build(self) -> Picture:
        fleet = self.fleet
        declared_child = {(r.source_id, r.target_id) for r in fleet.refs("child") if r.resolved}
        declared_parent = {(r.target_id, r.source_id) for r in fleet.refs("parent") if r.resolved}
        edges = hierarchy_edges(fleet)
        subtree = self._subtree_usage(edges)
        involved = set(edges) | {child for children in edges.values() for child in children}
        for pk in involved:
            stack = fleet.stacks[pk]
            hover = stack_hover(fleet, stack)
            limits = global_limits(stack)
            kids = [fleet.stacks[c] for c in edges.get(pk, ())]
            for key, attr in (("machines", "max_machines"), ("clusters", "max_clusters")):
                if limits[key] is not None:
                    total = sum(getattr(kid, attr) or 0 for kid in kids)
                    hover.append(f"children's max {key} {total} of global {limits[key]}")
            if kids:
                hover.append(f"machines in subtree {subtree.get(pk, 0)}")
            if stack.spec.get("inheritPolicies") is True:
                hover.append(f"inherits policies ({len(effective_policies(fleet, stack))} effective)")
            self.node(stack, self._sublabel(stack, limits, kids), hover)
        for parent, children in edges.items():
            for child in children:
                both = (parent, child) in declared_child and (parent, child) in declared_parent
                style = SOLID if both else ONE_SIDED
                label = (
                    ""
                    if both
                    else ("listed by parent only" if (parent, child) in declared_child else "parentVitistack only")
                )
                inherits = fleet.stacks[child].spec.get("inheritPolicies") is True
                self.graph.add_edge(
                    Edge(
                        f"{VITISTACK}:{parent}",
                        f"{VITISTACK}:{child}",
                        label or ("inherits" if inherits else ""),
                        style,
                    )
                )
        for ref in fleet.refs("child", "parent"):
            if not ref.resolved and ref.source_id in fleet.stacks:
                source = self.node(
                    fleet.stacks[ref.source_id],
                    stack_sublabel(fleet, fleet.stacks[ref.source_id]),
                    stack_hover(fleet, fleet.stacks[ref.source_id]),
                )
                target = self.missing(ref)
                pair = (source.id, target.id) if ref.relation == "child" else (target.id, source.id)
                self.graph.add_edge(Edge(*pair, "", DANGLING))
        picture = Picture(self.graph, TOP_DOWN, self.title, "No Vitistack declares childVitistacks or parentVitistack.")
        picture.tables.append(self._limits_table(edges))
        return picture

    def _sublabel(self, stack, limits, kids) -> str:
        usage = self.fleet.shown_stack_usage(stack.id)
        parts = []
        if stack.max_machines:
            parts.append(f"machines {percent(usage['machines'], stack.max_machines)}")
        if limits["machines"] is not None:
            parts.append(f"Σ children {sum(k.max_machines or 0 for k in kids)}/{limits['machines']}")
        return " · ".join(parts) or (stack.role or stack.region)

    def _subtree_usage(self, edges) -> dict[int, int]:
        memo: dict[int, int] = {}

        def total(pk, seen):
            if pk in memo:
                return memo[pk]
            own = self.fleet.shown_stack_usage(pk)["machines"]
            result = own + sum(total(c, seen | {pk}) for c in edges.get(pk, ()) if c not in seen and c != pk)
            memo[pk] = result
            return result

        return {pk: total(pk, frozenset()) for pk in edges}

    def _limits_table(self, edges) -> Table:
        table = Table(
            "Children's limits against the parent's global limits",
            [
                "Parent",
                "Children",
                "Σ children max machines",
                "Global max machines",
                "Σ children max clusters",
                "Global max clusters",
            ],
        )
        for parent_id, children in sorted(edges.items(), key=lambda item: self.fleet.stacks[item[0]].name):
            parent = self.fleet.stacks[parent_id]
            kids = [self.fleet.stacks[c] for c in children]
            limits = global_limits(parent)
            table.rows.append(
                [
                    link(parent),
                    str(len(kids)),
                    str(sum(k.max_machines or 0 for k in kids)),
                    "—" if limits["machines"] is None else str(limits["machines"]),
                    str(sum(k.max_clusters or 0 for k in kids)),
                    "—" if limits["clusters"] is None else str(limits["clusters"]),
                ]
            )
        return table


# -- disaster recovery ------------------------------------------------------------------------------------


def clouds(fleet: Fleet, stack: Obj) -> list[str]:
    return sorted(
        {
            fleet.machine_providers[pk].provider_type
            for kind, pk, _ in fleet.stack_provider_ids.get(stack.id, [])
            if kind == MACHINE_PROVIDER and fleet.machine_providers[pk].provider_type
        }
    )


class DisasterRecoveryBuilder(Builder):
    title = "Disaster recovery: primary → secondary Vitistacks"

    def describe(self, stack: Obj):
        cloud = ", ".join(clouds(self.fleet, stack)) or "cloud unknown"
        return (
            f"{self.cluster(stack)} · {stack.region or '—'} · {cloud}",
            [f"role {stack.role or '—'} · region {stack.region or '—'} · clouds {cloud}"],
        )

    def build(self) -> Picture:
        fleet = self.fleet
        backs = defaultdict(set)
        for ref in fleet.refs("primary"):
            if ref.resolved:
                backs[ref.source_id].add(ref.target_id)
        targets = defaultdict(set)
        table = Table(
            "Replication",
            [
                "Primary",
                "Secondary",
                "Mode",
                "RPO",
                "RTO",
                "Declared region / provider",
                "Secondary role",
                "Back-reference",
            ],
        )
        for ref in fleet.refs("replication-target"):
            primary = fleet.stacks.get(ref.source_id)
            if primary is None:
                continue
            source = self.node(primary, *self.describe(primary))
            target = self.target_node(ref, fleet.stacks, self.describe)
            if target is None:
                continue
            attrs = ref.attributes
            label = " · ".join(
                part
                for part in (
                    attrs.get("mode"),
                    attrs.get("rpo") and f"RPO {attrs['rpo']}",
                    attrs.get("rto") and f"RTO {attrs['rto']}",
                )
                if part
            )
            secondary = fleet.stacks.get(ref.target_id) if ref.resolved else None
            back_ok = secondary is not None and primary.id in backs.get(secondary.id, set())
            role_ok = secondary is not None and secondary.role == "disaster-recovery"
            if secondary is None:
                style, problems = DANGLING, ["target does not exist"]
            else:
                problems = ([] if back_ok else ["no primaryVitistack back-reference"]) + (
                    [] if role_ok else [f"secondary role is {secondary.role or 'not set'}"]
                )
                region = attrs.get("region")
                if region and secondary.region and region != secondary.region:
                    problems.append(f"declared region {region}, actual {secondary.region}")
                style = SOLID if not problems else (ONE_SIDED if not back_ok else MISMATCH)
                targets[primary.id].add(secondary.id)
            hover = (
                f"{primary.name} → {ref.target_name}: {label or 'no mode'}; declared region "
                f"{attrs.get('region', '—')}, provider {attrs.get('provider', '—')}"
                + (f"; {'; '.join(problems)}" if problems else "; back-reference and role verified")
            )
            self.graph.add_edge(Edge(source.id, target.id, label, style, hover))
            table.rows.append(
                [
                    link(primary),
                    link(secondary, ref.target_address),
                    attrs.get("mode", "—"),
                    attrs.get("rpo", "—"),
                    attrs.get("rto", "—"),
                    f"{attrs.get('region', '—')} / {attrs.get('provider', '—')}",
                    (secondary.role or "not set") if secondary else "—",
                    "missing target" if secondary is None else ("verified" if back_ok else "missing"),
                ]
            )
        for ref in fleet.refs("primary"):
            secondary = fleet.stacks.get(ref.source_id)
            if secondary is None or (ref.resolved and secondary.id in targets.get(ref.target_id, set())):
                continue
            source = self.node(secondary, *self.describe(secondary))
            primary = self.target_node(ref, fleet.stacks, self.describe)
            if primary is None:
                continue
            self.graph.add_edge(
                Edge(
                    primary.id,
                    source.id,
                    "primaryVitistack only",
                    DANGLING if not ref.resolved else ONE_SIDED,
                    f"{secondary.name} names {ref.target_address} as its primary, which does not "
                    f"list it as a replication target",
                )
            )
            table.rows.append(
                [
                    link(fleet.stacks.get(ref.target_id), ref.target_address),
                    link(secondary),
                    "—",
                    "—",
                    "—",
                    "—",
                    secondary.role or "not set",
                    "one-sided (secondary only)",
                ]
            )
        picture = Picture(
            self.graph,
            LEFT_RIGHT,
            self.title,
            "No Vitistack declares disasterRecovery.replicationTargets or primaryVitistack.",
        )
        picture.tables.append(table)
        return picture


# -- edge -------------------------------------------------------------------------------------------------


class EdgeBuilder(Builder):
    title = "Edge: central management → edge locations"

    def build(self) -> Picture:
        fleet = self.fleet
        table = Table(
            "Edge locations",
            [
                "Central",
                "Edge location",
                "Region",
                "Connectivity",
                "Bandwidth",
                "Latency",
                "Autonomy / offline timeout",
                "Machines used / limit",
                "Clusters used / limit",
                "Declared by",
            ],
        )
        for link_ in edge_links(fleet):
            central = link_.central
            self.node(
                central,
                f"manages {sum(1 for _ in fleet.refs('edge-location') if _.source_id == central.id)} locations",
                stack_hover(fleet, central),
            )
            limits = link_.limits
            if link_.edge is None:
                target = self.missing(link_.location)
                attrs = link_.location.attributes
                self.graph.add_edge(Edge(central.key, target.id, str(attrs.get("region", "")), DANGLING))
                table.rows.append(
                    [
                        link(central),
                        link_.location.target_address,
                        attrs.get("region", "—"),
                        "—",
                        "—",
                        "—",
                        "—",
                        f"— / {limits['machines'] or '—'}",
                        f"— / {limits['clusters'] or '—'}",
                        "central only (target missing)",
                    ]
                )
                continue
            edge = link_.edge
            spec_edge = as_dict(edge.spec.get("edge"))
            connectivity = as_dict(spec_edge.get("connectivity"))
            autonomy = as_dict(spec_edge.get("autonomy"))
            usage = fleet.shown_stack_usage(edge.id)
            machine_limit = limits["machines"] if limits["machines"] is not None else edge.max_machines
            cluster_limit = limits["clusters"] if limits["clusters"] is not None else edge.max_clusters
            autonomy_text = (
                f"autonomous, offline ≤ {autonomy.get('offlineTimeout', '?')}"
                if autonomy.get("enabled") is True
                else "not autonomous"
            )
            hover = [
                f"role {edge.role or '—'} · region {edge.region or '—'}",
                autonomy_text + (" · local decisions" if autonomy.get("localDecisionMaking") is True else ""),
                f"machines {percent(usage['machines'], machine_limit)} · clusters {percent(usage['clusters'], cluster_limit)}",
            ]
            own = as_dict(edge.spec.get("resourceQuotas"))
            extra_quotas = [f"{key} {own[key]}" for key in ("maxCPU", "maxMemory", "maxStorage") if key in own]
            if extra_quotas:
                hover.append("quotas " + ", ".join(extra_quotas))
            node = self.node(edge, f"{autonomy_text} · machines {percent(usage['machines'], machine_limit)}", hover)
            declared = (
                "both sides"
                if link_.location is not None and link_.location.resolved and link_.back
                else "central only"
                if link_.back is None
                else "edge only (managementVitistack)"
            )
            label = " · ".join(
                str(value)
                for value in (connectivity.get("type"), connectivity.get("bandwidth"), connectivity.get("latency"))
                if value
            )
            style = SOLID if declared == "both sides" else ONE_SIDED
            if declared == "both sides" and (
                edge.role != "edge" or (limits["machines"] is not None and usage["machines"] > limits["machines"])
            ):
                style = MISMATCH
            self.graph.add_edge(
                Edge(
                    central.key,
                    node.id,
                    label,
                    style,
                    f"{central.name} → {edge.name}: {label or 'connectivity not declared'} ({declared})",
                )
            )
            table.rows.append(
                [
                    link(central),
                    link(edge),
                    edge.region or "—",
                    connectivity.get("type", "—"),
                    connectivity.get("bandwidth", "—"),
                    connectivity.get("latency", "—"),
                    autonomy_text,
                    percent(usage["machines"], machine_limit) if machine_limit is not None else str(usage["machines"]),
                    percent(usage["clusters"], cluster_limit) if cluster_limit is not None else str(usage["clusters"]),
                    declared,
                ]
            )
        picture = Picture(
            self.graph,
            TOP_DOWN,
            self.title,
            "No Vitistack declares edgeManagement.edgeLocations or managementVitistack.",
        )
        picture.tables.append(table)
        return picture


# -- composition ------------------------------------------------------------------------------------------


class CompositionBuilder(Builder):
    title = "Stack composition"

    def build(self) -> Picture:
        fleet = self.fleet
        stack = fleet.stacks.get(self.options.stack) if self.options.stack else None
        if stack is None:
            return Picture(self.graph, TOP_DOWN, self.title, "Pick a Vitistack to see what it is made of.")
        root = self.node(stack, stack_sublabel(fleet, stack), stack_hover(fleet, stack))
        table = Table(
            "Providers by priority",
            ["Priority", "Kind", "Provider", "Type / region", "Phase", "Machines", "Node groups"],
        )
        refs = sorted(
            (r for r in fleet.refs("machine-provider", "kubernetes-provider") if r.source_id == stack.id),
            key=lambda r: (as_int(r.attributes.get("priority")) or 999, r.relation, r.target_name),
        )
        machine_providers = []
        for ref in refs:
            objects = fleet.objects_of(ref.target_kind)
            target = self.target_node(ref, objects, lambda obj: self.describe_provider(obj))
            if target is None:
                continue
            priority = ref.attributes.get("priority")
            self.graph.add_edge(
                Edge(
                    root.id,
                    target.id,
                    f"priority {priority}" if priority is not None else "",
                    SOLID if ref.resolved else DANGLING,
                )
            )
            obj = objects.get(ref.target_id) if ref.resolved else None
            if obj is not None and obj.kind == MACHINE_PROVIDER:
                machine_providers.append(obj)
            groups = fleet.node_groups.get(obj.id, []) if obj is not None and obj.kind == KUBERNETES_PROVIDER else []
            table.rows.append(
                [
                    str(priority if priority is not None else "—"),
                    ref.target_kind,
                    link(obj, ref.target_address),
                    " / ".join(filter(None, [getattr(obj, "provider_type", ""), getattr(obj, "region", "")]))
                    if obj
                    else "missing",
                    (obj.phase or "—") if obj else "—",
                    str(fleet.machine_count(obj.id)) if obj and obj.kind == MACHINE_PROVIDER else "",
                    ", ".join(g["name"] for g in groups),
                ]
            )
        reported = self._reported(stack, root)
        for ref in fleet.refs("shared-with"):
            if ref.resolved and ref.target_id == stack.id and ref.source_id in fleet.machine_providers:
                provider = fleet.machine_providers[ref.source_id]
                node = self.node(provider, *self.describe_provider(provider))
                if not any(edge.target == node.id for edge in self.graph.edges):
                    machine_providers.append(provider)
                self.graph.add_edge(Edge(root.id, node.id, "shared with it", DEPENDS))
        self._node_groups()
        self._machines(machine_providers)
        picture = Picture(self.graph, TOP_DOWN, f"Composition of {stack.address}")
        picture.tables.append(table)
        if reported.rows:
            picture.tables.append(reported)
        return picture

    def _reported(self, stack: Obj, root: Node) -> Table:
        """What the VitiStack operator reports in the stack's status (published API): providers and clusters,
        drawn beside the spec's lists (an edge both declare reads "priority 1, reported")."""
        fleet = self.fleet
        table = Table("Reported by the operator (status)", ["Kind", "Name", "Type", "Phase", "Ready", "In spec"])
        listed = {
            (r.target_kind, r.target_id)
            for r in fleet.refs("machine-provider", "kubernetes-provider")
            if r.source_id == stack.id
        }
        for ref in fleet.refs("reported-machine-provider", "reported-kubernetes-provider", "reported-cluster"):
            if ref.source_id != stack.id:
                continue
            if ref.target_kind in (MACHINE_PROVIDER, KUBERNETES_PROVIDER):
                objects = fleet.objects_of(ref.target_kind)
            else:
                found = fleet.get(ref.target_kind, ref.target_id) if ref.resolved else None
                objects = {found.id: found} if found else {}
            target = self.target_node(
                ref, objects, lambda obj: self.describe_provider(obj) if obj.kind != "KubernetesCluster" else ("", [])
            )
            if target is None:
                continue
            self.graph.add_edge(Edge(root.id, target.id, "reported", DEPENDS if ref.resolved else DANGLING, ref.path))
            obj = objects.get(ref.target_id) if ref.resolved else None
            ready = ref.attributes.get("ready")
            table.rows.append(
                [
                    ref.target_kind,
                    link(obj, ref.target_address) if obj else f"{ref.target_address} (missing)",
                    str(ref.attributes.get("providerType") or "—"),
                    str(ref.attributes.get("phase") or (obj.phase if obj else "") or "—"),
                    "—" if ready is None else str(ready).lower(),
                    "yes" if obj is not None and (ref.target_kind, obj.id) in listed else "no",
                ]
            )
        return table

    def describe_provider(self, obj: Obj):
        sub = " · ".join(filter(None, [getattr(obj, "provider_type", ""), getattr(obj, "region", "")]))
        hover = []
        if obj.kind == MACHINE_PROVIDER:
            hover.append(f"{self.fleet.machine_count(obj.id)} machines")
        return sub, hover

    def _node_groups(self):
        fleet = self.fleet
        group_refs = {(r.source_id, r.attributes.get("nodeGroup")): r for r in fleet.refs("node-group-provider")}
        for node in list(self.graph.nodes.values()):
            if node.kind != KUBERNETES_PROVIDER or node.pk is None:
                continue
            for group in fleet.node_groups.get(node.pk, []):
                sizes = f"{group['min_size']}–{group['max_size']}, want {group['desired_size']}"
                group_node = self.graph.add_node(
                    Node(
                        f"NodeGroup:{node.pk}:{group['name']}",
                        "NodeGroup",
                        group["name"],
                        node.state,
                        None,
                        f"{group['instance_type']} · {sizes}",
                        [
                            f"node group of {node.label}",
                            f"instance type {group['instance_type'] or '—'} · {group['capacity_type'] or '—'}",
                            f"size {sizes}",
                        ],
                    )
                )
                self.graph.add_edge(Edge(node.id, group_node.id, "", SOLID))
                ref = group_refs.get((node.pk, group["name"]))
                if ref is None:
                    continue
                provider = self.target_node(ref, fleet.machine_providers, self.describe_provider)
                if provider is not None:
                    self.graph.add_edge(
                        Edge(
                            provider.id,
                            group_node.id,
                            f"nodes: {group['instance_type']}",
                            DEPENDS if ref.resolved else DANGLING,
                        )
                    )

    def _machines(self, providers):
        machines = self.fleet.machines_on([p.id for p in providers])
        entries = defaultdict(dict)
        from vitiweb.models import Reference

        # The problems of every machine drawn, whatever their number: the machines on these providers
        # are chosen in the database (a subquery), as machines_on chooses them.
        on_providers = Reference.objects.filter(
            source_kind=MACHINE,
            relation="machine-provider",
            state=Reference.State.RESOLVED,
            target_kind=MACHINE_PROVIDER,  # with target_id: the index that finds them
            target_id__in=[p.id for p in providers],
        ).values("source_id")
        for source_id, relation, detail in (
            Reference.objects.filter(
                source_kind=MACHINE, source_id__in=on_providers, relation__in=("instance-type", "machine-image")
            )
            .exclude(state=Reference.State.RESOLVED)
            .values_list("source_id", "relation", "detail")
        ):
            entries[source_id][relation] = detail
        for provider in providers:
            for machine in sorted(machines.get(provider.id, []), key=lambda m: m.name):
                problems = list(entries.get(machine.id, {}).values())
                node = self.node(machine, machine.instance_type, problems)
                self.graph.add_edge(Edge(f"{MACHINE_PROVIDER}:{provider.id}", node.id, "", SOLID))
        collapse(self.graph, self.options.expanded)


# -- failover and sharing -----------------------------------------------------------------------------------


def _conditions(conditions) -> str:
    parts = []
    for condition in conditions if isinstance(conditions, list) else []:
        if isinstance(condition, dict):
            parts.append(f"{condition.get('type', '?')}={condition.get('status', '?')}")
    return " and ".join(parts)


class FailoverBuilder(Builder):
    title = "Failover chains of machine providers"

    def describe(self, obj: Obj):
        users = len(self.fleet.stacks_listing().get(obj.key, []))
        return (
            " · ".join(filter(None, [obj.provider_type, obj.region])),
            [f"listed by {users} Vitistack(s)", f"{self.fleet.machines_per_provider.get(obj.id, 0)} machines"],
        )

    def build(self) -> Picture:
        fleet = self.fleet
        table = Table("Failover targets", ["Provider", "Fails over to", "Priority", "When", "State"])
        for ref in fleet.refs("failover-target"):
            provider = fleet.machine_providers.get(ref.source_id)
            if provider is None:
                continue
            source = self.node(provider, *self.describe(provider))
            target = self.target_node(ref, fleet.machine_providers, self.describe)
            if target is None:
                continue
            when = _conditions(ref.attributes.get("conditions"))
            priority = ref.attributes.get("priority")
            label = " · ".join(
                filter(None, [f"priority {priority}" if priority is not None else "", f"if {when}" if when else ""])
            )
            self.graph.add_edge(
                Edge(
                    source.id,
                    target.id,
                    label,
                    SOLID if ref.resolved else DANGLING,
                    f"{provider.name} fails over to {ref.target_address} ({label or 'no conditions'})",
                )
            )
            table.rows.append(
                [
                    link(provider),
                    link(fleet.machine_providers.get(ref.target_id), ref.target_address),
                    str(priority if priority is not None else "—"),
                    when or "—",
                    "resolved" if ref.resolved else ref.state,
                ]
            )
        picture = Picture(self.graph, LEFT_RIGHT, self.title, "No machine provider declares failover.targets.")
        picture.tables.append(table)
        return picture


class SharingBuilder(Builder):
    title = "Providers shared across Vitistacks"

    def build(self) -> Picture:
        fleet = self.fleet
        listed = fleet.stacks_listing()
        shared = defaultdict(dict)  # provider key -> {stack id: ref}
        for ref in fleet.refs("shared-with"):
            shared[f"{MACHINE_PROVIDER}:{ref.source_id}"][ref.target_id if ref.resolved else f"missing:{ref.id}"] = ref
        table = Table("Sharing", ["Provider", "Vitistack", "Shared (shareWith)", "Listed by the Vitistack"])
        keys = set(shared) | {key for key, stacks in listed.items() if len(stacks) > 1}
        for key in sorted(keys):
            kind, pk = key.split(":")
            provider = fleet.objects_of(kind).get(int(pk))
            if provider is None:
                continue
            node = self.node(
                provider,
                " · ".join(filter(None, [provider.provider_type, provider.region])),
                [f"listed by {len(listed.get(key, []))} Vitistack(s)"],
            )
            stacks = set(listed.get(key, [])) | {k for k in shared.get(key, {}) if isinstance(k, int)}
            for stack_id in sorted(stacks, key=lambda s: fleet.stacks[s].name if s in fleet.stacks else ""):
                stack = fleet.stacks.get(stack_id)
                if stack is None:
                    continue
                is_shared, is_listed = stack_id in shared.get(key, {}), stack_id in listed.get(key, [])
                target = self.node(stack, stack.region, stack_hover(fleet, stack))
                label = (
                    "shared and used" if is_shared and is_listed else ("shared, not listed" if is_shared else "used")
                )
                self.graph.add_edge(Edge(node.id, target.id, label, SOLID if is_listed else ONE_SIDED))
                table.rows.append(
                    [link(provider), link(stack), "yes" if is_shared else "no", "yes" if is_listed else "no"]
                )
            for missing_key, ref in shared.get(key, {}).items():
                if isinstance(missing_key, str):
                    target = self.missing(ref)
                    self.graph.add_edge(Edge(node.id, target.id, "shared", DANGLING))
                    table.rows.append([link(provider), ref.target_address + " (missing)", "yes", "—"])
        picture = Picture(
            self.graph,
            LEFT_RIGHT,
            self.title,
            "No provider is shared (shareWith) or listed by more than one Vitistack.",
        )
        picture.tables.append(table)
        return picture


# -- blast radius -----------------------------------------------------------------------------------------


class BlastRadiusBuilder(Builder):
    """Everything that depends on one object, directly or through others."""

    title = "Blast radius"

    def dependents(self) -> dict[str, list[tuple[str, str]]]:
        """Object key -> [(dependent key, how it depends)]."""
        found: dict[str, list] = defaultdict(list)
        for ref in self.fleet.stack_refs + self.fleet.provider_refs:
            if not ref.resolved:
                continue
            source, target = ref.source_key, ref.target_key
            relation = ref.relation
            if relation in ("machine-provider", "kubernetes-provider"):
                found[target].append((source, "lists it"))
            elif relation == "child":
                found[source].append((target, "child"))
            elif relation == "parent":
                found[target].append((source, "child"))
            elif relation == "edge-location":
                found[source].append((target, "edge location"))
            elif relation == "management":
                found[target].append((source, "edge location"))
            elif relation == "replication-target":
                found[target].append((source, "replicates to it"))
            elif relation == "failover-target":
                found[target].append((source, "fails over to it"))
            elif relation == "shared-with":
                found[source].append((target, "shared with"))
            elif relation == "node-group-provider":
                found[target].append((source, f"node group {ref.attributes.get('nodeGroup', '')}".strip()))
        return found

    def build(self) -> Picture:
        fleet = self.fleet
        kind, pk = self.options.kind, self.options.pk
        root_obj = fleet.get(kind, pk) if kind in (VITISTACK, MACHINE_PROVIDER, KUBERNETES_PROVIDER) else None
        if root_obj is None:
            return Picture(self.graph, TOP_DOWN, self.title, "Pick a Vitistack or provider to see what depends on it.")
        dependents = self.dependents()
        seen = {root_obj.key}
        frontier = [root_obj]
        self.node(root_obj, "the object picked", [])
        affected: dict[str, int] = defaultdict(int)
        while frontier:
            providers = [obj.id for obj in frontier if obj.kind == MACHINE_PROVIDER]
            machines = fleet.machines_on(providers)
            next_frontier = []
            for obj in frontier:
                for machine in machines.get(obj.id, []):
                    node = self.node(machine, machine.instance_type)
                    self.graph.add_edge(Edge(obj.key, node.id, "", SOLID))
                    affected[MACHINE] += 1
                for key, how in dependents.get(obj.key, []):
                    kind_, pk_ = key.split(":")
                    dependent = fleet.get(kind_, int(pk_))
                    if dependent is None:
                        continue
                    node = self.node(dependent, how)
                    self.graph.add_edge(Edge(obj.key, node.id, how, SOLID))
                    if key not in seen:
                        seen.add(key)
                        affected[kind_] += 1
                        next_frontier.append(dependent)
            frontier = next_frontier
        collapse(self.graph, self.options.expanded)
        picture = Picture(
            self.graph,
            TOP_DOWN,
            f"Blast radius of {root_obj.kind} {root_obj.address}",
            notes=[
                "An arrow reads “is depended on by”: Vitistacks listing a provider, providers and "
                "node groups failing over to or running on it, machines on it, children and edge "
                "locations of a Vitistack, primaries replicating to it."
            ],
        )
        table = Table("Affected objects", ["Kind", "Count"])
        for kind_, count in sorted(affected.items()):
            table.rows.append([kind_, str(count)])
        if not affected:
            table.rows.append(["—", "nothing depends on it"])
        picture.tables.append(table)
        return picture


#: A control plane or a node pool of a KubernetesCluster: a part of it, drawn as a node of its own.
NODE_POOL = "Node pool"


class KubernetesClustersBuilder(Builder):
    """The published API's Kubernetes clusters: cluster -> control plane and node pools -> Machines ->
    machine class -> provider type -> the machine providers of that type; and the network namespace.

    A Machine belongs to a KubernetesCluster by its label ``vitistack.io/clusterid``, and to one of its
    pools when the cluster's status lists it among that pool's nodes; a Machine no pool lists hangs
    off the cluster itself (nothing else says which pool it is in).
    """

    title = "Kubernetes clusters"

    @staticmethod
    def objects(kind: str, *extra: str) -> dict[int, Obj]:
        rows = (
            registry.get(kind)
            .get_model()
            .objects.values_list("id", "cluster_id", "namespace", "name", "phase", "ready", *extra)
        )
        return {row[0]: Obj(kind, *row[:6], extra=dict(zip(extra, row[6:], strict=True))) for row in rows}

    def build(self) -> Picture:
        from vitiweb.models import Reference

        clusters = self.objects("KubernetesCluster", "spec", "status", "provider", "version")
        classes = self.objects("MachineClass", "provider_types")
        networks = self.objects("NetworkNamespace")
        refs = load_refs(
            Reference.objects.filter(
                source_kind__in=("KubernetesCluster", MACHINE),
                relation__in=("machine-class", "network-namespace", "kubernetes-cluster"),
            ).order_by("id")
        )
        by_source: dict[tuple[str, int], list[Ref]] = defaultdict(list)
        machines_of: dict[int, list[int]] = defaultdict(list)
        for ref in refs:
            by_source[(ref.source_kind, ref.source_id)].append(ref)
            if ref.source_kind == MACHINE and ref.relation == "kubernetes-cluster" and ref.resolved:
                machines_of[ref.target_id].append(ref.source_id)
        machines = self.fleet.machines_by_id(pk for pks in machines_of.values() for pk in pks)
        providers_of_type: dict[tuple[int, str], list[Obj]] = defaultdict(list)
        for provider in self.fleet.machine_providers.values():
            if provider.provider_type:
                providers_of_type[(provider.cluster_id, provider.provider_type)].append(provider)

        table = Table(
            "Kubernetes clusters",
            ["Cluster", "Control plane and node pools", "Machines", "Machine classes", "Provider types", "Network"],
        )
        for cluster in clusters.values():
            spec, status = as_dict(cluster.spec), as_dict(cluster.status)
            node = self.node(
                cluster,
                " · ".join(part for part in (cluster.provider, cluster.version and f"v{cluster.version}") if part),
            )
            class_refs = {
                ref.attributes.get("pool", ""): ref
                for ref in by_source[("KubernetesCluster", cluster.id)]
                if ref.relation == "machine-class"
            }
            used_classes: set[int] = set()
            pools_text = []
            pool_of_machine: dict[str, str] = {}
            for pool_name, pool, reported in _pools(spec, status):
                pool_node = self.graph.add_node(
                    Node(
                        f"pool:{cluster.id}:{pool_name}",
                        NODE_POOL,
                        pool_name,
                        state_of_pool(reported, cluster.state),
                        None,
                        f"{pool.get('replicas', '?')} × {pool.get('machineClass') or '—'}",
                        [
                            f"{pool_name} of {cluster.address}",
                            f"provider {pool.get('provider') or '—'} · version {pool.get('version') or '—'}",
                            *([f"status {reported['status']}"] if reported.get("status") else []),
                        ],
                    )
                )
                self.graph.add_edge(Edge(node.id, pool_node.id, "", SOLID, f"{pool_name} of {cluster.name}"))
                pools_text.append(f"{pool_name} {pool.get('replicas', '?')} × {pool.get('machineClass') or '—'}")
                for name in reported.get("nodes") or []:
                    if isinstance(name, str):
                        pool_of_machine.setdefault(name, pool_node.id)
                ref = class_refs.get(pool_name)
                if ref is not None:
                    target = self.target_node(ref, classes, lambda o: ("", []))
                    if target is not None:
                        self.graph.add_edge(
                            Edge(pool_node.id, target.id, "", SOLID if ref.resolved else DANGLING, ref.path)
                        )
                    if ref.resolved:
                        used_classes.add(ref.target_id)
            network = "—"
            for ref in by_source[("KubernetesCluster", cluster.id)]:
                if ref.relation != "network-namespace":
                    continue
                network = ref.target_name
                target = self.target_node(ref, networks, lambda o: ("", []))
                if target is not None:
                    self.graph.add_edge(
                        Edge(node.id, target.id, "network", SOLID if ref.resolved else DANGLING, ref.path)
                    )
            count = 0
            for machine_id in machines_of.get(cluster.id, []):
                machine = machines.get(machine_id)
                if machine is None:
                    continue
                count += 1
                machine_node = self.node(machine)
                parent = pool_of_machine.get(machine.name, node.id)
                self.graph.add_edge(
                    Edge(parent, machine_node.id, "", DEPENDS, f"{machine.name} is a node of {cluster.name}")
                )
                for machine_ref in by_source[(MACHINE, machine.id)]:
                    if machine_ref.relation != "machine-class":
                        continue
                    target = self.target_node(machine_ref, classes, lambda o: ("", []))
                    if target is not None:
                        style = SOLID if machine_ref.resolved else DANGLING
                        self.graph.add_edge(Edge(machine_node.id, target.id, "", style, machine_ref.path))
                    if machine_ref.resolved:
                        used_classes.add(machine_ref.target_id)
            used_types = set()
            for pk in used_classes:
                for provider_type in _types(classes[pk].provider_types) if pk in classes else ():
                    used_types.add(provider_type)
                    type_node = self.graph.add_node(
                        Node(f"type:{provider_type}", "Provider type", provider_type, READY, None, "provider type")
                    )
                    self.graph.add_edge(Edge(f"MachineClass:{pk}", type_node.id, "", SOLID, "may run on"))
                    for provider in providers_of_type.get((cluster.cluster_id, provider_type), []):
                        self.graph.add_edge(
                            Edge(
                                type_node.id,
                                self.node(provider).id,
                                "",
                                DEPENDS,
                                f"{provider.name} offers {provider_type}",
                            )
                        )
            table.rows.append(
                [
                    link(cluster),
                    "; ".join(pools_text) or "—",
                    str(count),
                    ", ".join(sorted(classes[pk].name for pk in used_classes if pk in classes)) or "—",
                    ", ".join(sorted(used_types)) or "—",
                    network,
                ]
            )
        picture = Picture(self.graph, LEFT_RIGHT, self.title, "No KubernetesCluster in the fleet (the published API).")
        picture.tables.append(table)
        return picture


def _types(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _pools(spec: dict, status: dict) -> list[tuple[str, dict, dict]]:
    """(name, spec of the pool, what the status reports of it) for the control plane and each node pool."""
    topology = as_dict(spec.get("topology"))
    reported = as_dict(as_dict(status.get("state")).get("cluster"))
    reported_pools = {
        pool.get("name"): pool
        for pool in reported.get("nodepools") or []
        if isinstance(pool, dict) and isinstance(pool.get("name"), str)
    }
    found = []
    if isinstance(topology.get("controlplane"), dict):
        found.append(("control plane", topology["controlplane"], as_dict(reported.get("controlplane"))))
    for pool in as_dict(topology.get("workers")).get("nodePools") or []:
        if isinstance(pool, dict) and isinstance(pool.get("name"), str) and pool["name"]:
            found.append((pool["name"], pool, as_dict(reported_pools.get(pool["name"]))))
    return found


def state_of_pool(reported: dict, cluster_state: str) -> str:
    """A pool's state: what the status says of it (``running``, ``failed``...), else its cluster's."""
    text = reported.get("status") if isinstance(reported.get("status"), str) else ""
    return state_of(text, None) if text else cluster_state


VIEWS = {
    "hierarchy": ("Hierarchy", HierarchyBuilder),
    "dr": ("Disaster recovery", DisasterRecoveryBuilder),
    "edge": ("Edge", EdgeBuilder),
    "composition": ("Composition", CompositionBuilder),
    "failover": ("Failover", FailoverBuilder),
    "sharing": ("Sharing", SharingBuilder),
    "blast-radius": ("Blast radius", BlastRadiusBuilder),
    "kubernetes-clusters": ("Kubernetes clusters", KubernetesClustersBuilder),
}


def build_picture(view: str, fleet: Fleet, findings: FindingIndex, options: Options) -> Picture:
    picture = VIEWS[view][1](fleet, findings, options).build()
    if options.query and view not in ("composition", "blast-radius"):
        needle = options.query.lower()
        picture.notes.append(f"Showing only the parts that contain “{options.query}”.")
        picture.graph.keep_components(lambda node: needle in node.label.lower() or needle in node.id.lower())
    if view not in ("composition", "blast-radius"):
        collapse(picture.graph, options.expanded)
    noun = FOLDED_NOUNS.get(view)
    if noun and fold_healthy_components(picture.graph, options.expanded, noun):
        picture.notes.append(f"Healthy {noun} are folded into one node; click it to show them.")
    return picture


#: Views made of many small independent pictures, and what to call one of them.
FOLDED_NOUNS = {"dr": "DR pairs", "failover": "failover chains", "sharing": "sharing groups", "edge": "edge sites"}
