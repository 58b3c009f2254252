"""The integrity checks, one function each, in the order the findings page lists them.

Every check reads the fleet through ``vitiweb.fleet.Fleet`` (the
reference graph plus the kind tables) and returns findings that name the
objects involved, say what is wrong in the operator's words and how to fix
it. A check that cannot know (a Secret list it may not see, a provider whose
configuration is elided) says so instead of guessing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, F, Q

from vitiweb.fleet import (
    KUBERNETES_PROVIDER,
    MACHINE,
    MACHINE_PROVIDER,
    SECRET,
    VITISTACK,
    Fleet,
    Obj,
    Ref,
    load_refs,
)
from vitiweb.integrity import ERROR, INFO, WARNING, Finding, ObjectRef, conventions
from vitiweb.models import Reference
from vitiweb.spec import as_dict, as_int

RELATION_WORDS = {
    "machine-provider": "machine provider",
    "kubernetes-provider": "Kubernetes provider",
    "child": "child Vitistack",
    "parent": "parent Vitistack",
    "replication-target": "disaster-recovery replication target",
    "primary": "primary Vitistack",
    "edge-location": "edge location",
    "management": "management Vitistack",
    "failover-target": "failover target",
    "shared-with": "shared with",
    "node-group-provider": "node group's machine provider",
    "secret": "credentials",
    "machine-class": "machine class",
    "network-namespace": "network namespace",
    "kubernetes-cluster": "Kubernetes cluster",
    "kubevirt-config": "KubeVirt configuration",
    "storage-class": "storage class",
    "reported-machine-provider": "machine provider the operator reports",
    "reported-kubernetes-provider": "Kubernetes provider the operator reports",
    "reported-cluster": "Kubernetes cluster the operator reports",
}

#: Where the published API shape declares a Vitistack's one DR target (the guide's is a list with back-references).
PUBLISHED_DR_PATH = "spec.backup.disasterRecovery.targetVitistack"


def published_stack(stack: Obj) -> bool:
    """A Vitistack in the published shape (``infrastructure`` is required there and absent from the guide's)."""
    return "infrastructure" in stack.spec


@dataclass(frozen=True)
class Check:
    slug: str
    title: str
    function: object
    description: str


def object_ref(fleet: Fleet, obj: Obj) -> ObjectRef:
    return ObjectRef(obj.kind, obj.id, fleet.clusters.get(obj.cluster_id, ""), obj.namespace, obj.name)


def source_ref(fleet: Fleet, ref: Ref, machines: dict | None = None) -> ObjectRef:
    obj = (
        (machines or {}).get(ref.source_id) if ref.source_kind == MACHINE else fleet.get(ref.source_kind, ref.source_id)
    )
    if obj is None:
        return ObjectRef(
            ref.source_kind, ref.source_id, fleet.clusters.get(ref.source_cluster_id, ""), "", f"#{ref.source_id}"
        )
    return object_ref(fleet, obj)


def missing_ref(fleet: Fleet, ref: Ref) -> ObjectRef:
    return ObjectRef(
        ref.target_kind, None, fleet.clusters.get(ref.source_cluster_id, ""), ref.target_namespace, ref.target_name
    )


def _with_machines(fleet: Fleet, refs: list[Ref]) -> dict:
    return fleet.machines_by_id({ref.source_id for ref in refs if ref.source_kind == MACHINE})


def _namespace_hint(fleet: Fleet, ref: Ref) -> list[Obj]:
    """Objects of the wanted kind and name in another namespace: the likely intended target."""
    return [
        obj for obj in fleet.find_by_name(ref.target_kind, ref.target_name) if obj.namespace != ref.target_namespace
    ]


# -- references that do not resolve -------------------------------------------------------------------


def dangling_references(fleet: Fleet) -> list[Finding]:
    refs = load_refs(
        Reference.objects.filter(state=Reference.State.DANGLING)
        .exclude(target_kind=SECRET)
        # An entry of a provider that does not exist is covered by the provider's own reference.
        .exclude(~Q(target_entry="") & Q(target_id__isnull=True))
        # An entry the provider does not declare is its own check.
        .exclude(~Q(target_entry="") & Q(target_id__isnull=False))
    )
    machines = _with_machines(fleet, refs)
    findings = []
    for ref in refs:
        source = source_ref(fleet, ref, machines)
        words = RELATION_WORDS.get(ref.relation, ref.relation)
        hints = _namespace_hint(fleet, ref)
        message = (
            f"{source} names {ref.target_kind} {ref.target_address} ({words}, {ref.path}), "
            f"but no {ref.target_kind} of that name exists in namespace {ref.target_namespace} anywhere in the fleet."
        )
        if hints:
            where = ", ".join(
                f"namespace {obj.namespace} (cluster {fleet.clusters.get(obj.cluster_id, '?')})" for obj in hints[:3]
            )
            fix = (
                f"A {ref.target_kind} named {ref.target_name} exists in {where}: set "
                f"namespace: {hints[0].namespace} at {ref.path}, or create {ref.target_address}."
            )
        else:
            fix = f"Create {ref.target_kind} {ref.target_address}, or remove the entry at {ref.path}."
        objects = (source, missing_ref(fleet, ref), *(object_ref(fleet, obj) for obj in hints[:3]))
        findings.append(
            Finding("dangling-reference", ERROR, message, fix, objects, ref.path, {"relation": ref.relation})
        )
    return findings


def ambiguous_references(fleet: Fleet) -> list[Finding]:
    refs = load_refs(Reference.objects.filter(state=Reference.State.AMBIGUOUS).exclude(target_kind=SECRET))
    machines = _with_machines(fleet, refs)
    findings = []
    for ref in refs:
        source = source_ref(fleet, ref, machines)
        candidates = fleet.find_by_address(ref.target_kind, ref.target_namespace, ref.target_name)
        clusters = sorted(fleet.clusters.get(obj.cluster_id, "?") for obj in candidates)
        home = fleet.clusters.get(ref.source_cluster_id, "?")
        message = (
            f"{source} names {ref.target_kind} {ref.target_address} ({ref.path}); it is not in {source.kind}'s "
            f"own cluster {home} but exists in {len(candidates)} other clusters ({', '.join(clusters)}), "
            f"so which one is meant cannot be told."
        )
        fix = (
            f"Create {ref.target_address} in cluster {home} (a reference prefers its own cluster), or keep it in only "
            f"one of {', '.join(clusters)}."
        )
        objects = (source, *(object_ref(fleet, obj) for obj in candidates))
        findings.append(Finding("ambiguous-reference", WARNING, message, fix, objects, ref.path))
    return findings


def missing_secrets(fleet: Fleet) -> list[Finding]:
    """Secrets are checked by name in the referrer's own cluster (a Secret cannot be read across clusters)."""
    refs = load_refs(Reference.objects.filter(target_kind=SECRET))
    machines = _with_machines(fleet, refs)
    findings = []
    for ref in refs:
        known = fleet.secrets_by_cluster.get(ref.source_cluster_id, set())
        if (ref.target_namespace, ref.target_name) in known:
            continue
        source = source_ref(fleet, ref, machines)
        cluster = fleet.clusters.get(ref.source_cluster_id, "?")
        key = ref.attributes.get("key")
        secret = f"Secret {ref.target_address}" + (f" (key {key})" if key else "")
        if not known:
            findings.append(
                Finding(
                    "missing-secret",
                    WARNING,
                    f"{source} needs {secret} ({ref.path}); Vitiweb knows no Secret at all in cluster {cluster}, "
                    f"so whether it exists cannot be confirmed.",
                    f"Give Vitiweb's service account permission to list Secrets (metadata only) in cluster {cluster}, "
                    f"or create {secret} there.",
                    (source, missing_ref(fleet, ref)),
                    ref.path,
                )
            )
            continue
        elsewhere = ""
        if ref.resolved and ref.target_cluster_id != ref.source_cluster_id:
            elsewhere = (
                f" A Secret of that name exists in cluster {fleet.clusters.get(ref.target_cluster_id, '?')}, "
                f"but a Secret is usable only inside its own cluster."
            )
        findings.append(
            Finding(
                "missing-secret",
                ERROR,
                f"{source} needs {secret} ({ref.path}), which does not exist in cluster {cluster}.{elsewhere}",
                f"Create it: kubectl create secret generic {ref.target_name} --namespace {ref.target_namespace} "
                + (f"--from-literal={key}=... " if key else "")
                + f"(in cluster {cluster}), or point {ref.path} at an existing Secret.",
                (source, missing_ref(fleet, ref)),
                ref.path,
            )
        )
    return findings


def undeclared_entries(fleet: Fleet) -> list[Finding]:
    """Instance types and images a machine or node group uses that its provider does not offer."""
    from providers.models import MachineProvider

    refs = load_refs(
        Reference.objects.filter(state=Reference.State.DANGLING, target_id__isnull=False).exclude(target_entry="")
    )
    machines = _with_machines(fleet, refs)
    findings = []
    for ref in refs:
        source = source_ref(fleet, ref, machines)
        provider = fleet.machine_providers.get(ref.target_id)
        if provider is None:
            continue
        entry_kind = ref.attributes.get("entry", "entry")
        spec = fleet.machine_provider_specs.get(provider.id, {})
        offered = sorted(MachineProvider.declared_entries(spec, entry_kind))
        node_group = ref.attributes.get("nodeGroup")
        user = f"{source} (node group {node_group})" if node_group else str(source)
        field = "instanceTypes" if entry_kind == "instance type" else "machineImages"
        block = spec.get("type") if isinstance(spec.get("type"), str) else "<type>"
        message = (
            f"{user} uses {entry_kind} {ref.target_entry} ({ref.path}), which {MACHINE_PROVIDER} "
            f"{provider.address} does not offer"
            + (f" (it offers {', '.join(offered)})." if offered else " (it declares none).")
        )
        fix = (
            f"Use one of {', '.join(offered)}, or " if offered else ""
        ) + f"add {ref.target_entry} to {provider.address}'s spec.{block}.{field}."
        findings.append(
            Finding(
                "undeclared-entry",
                ERROR,
                message,
                fix,
                (source, object_ref(fleet, provider)),
                ref.path,
                {"entry": ref.target_entry},
            )
        )
    return findings


def _names(items) -> set[str]:
    names = set()
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, dict):
            for key in ("name", "id"):
                if isinstance(item.get(key), str):
                    names.add(item[key])
    return names


def undeclared_networking(fleet: Fleet) -> list[Finding]:
    """Security groups and subnets a machine or node group uses that its provider's networking does not define."""
    from machines.models import Machine
    from providers.models import KubernetesProvider, provider_block

    declared: dict[int, tuple[set, set] | None] = {}

    def provider_networking(provider_id):
        if provider_id not in declared:
            networking = as_dict(provider_block(fleet.machine_provider_specs.get(provider_id, {})).get("networking"))
            declared[provider_id] = (
                (_names(networking.get("subnets")), _names(networking.get("securityGroups"))) if networking else None
            )
        return declared[provider_id]

    def problems(provider_id, subnets, groups):
        """(what, name) pairs the provider does not declare; an undeclared block declares nothing to compare with."""
        networking = provider_networking(provider_id)
        if networking is None:
            return []
        offered_subnets, offered_groups = networking
        found = [("subnet", subnet) for subnet in subnets if offered_subnets and subnet not in offered_subnets]
        found += [("security group", group) for group in sorted(_names(groups)) if group not in offered_groups]
        return found

    # Machines: the database groups them by provider and networking (a handful of distinct combinations
    # for thousands of machines); only the machines of a combination that does not match are read.
    by_address: dict[tuple[str, str], list[Obj]] = defaultdict(list)
    for provider in fleet.machine_providers.values():
        by_address[(provider.namespace, provider.name)].append(provider)

    def resolve(cluster_id, namespace, name):
        """As the reference graph resolves: the machine's own cluster first, then a single match in the fleet."""
        candidates = by_address.get((namespace, name), [])
        local = [p for p in candidates if p.cluster_id == cluster_id]
        chosen = local or candidates
        return chosen[0].id if len(chosen) == 1 else None

    combinations = (
        Machine.objects.filter(spec__networking__isnull=False)
        .values_list(
            "cluster_id",
            "namespace",
            "provider_namespace",
            "provider_name",
            "spec__networking__subnet",
            "spec__networking__securityGroups",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    users = []  # (source, provider id, path, [(what, name)])
    for cluster_id, namespace, provider_namespace, provider_name, subnet, groups, _count in combinations:
        provider_id = resolve(cluster_id, provider_namespace or namespace, provider_name)
        if provider_id is None:
            continue
        found = problems(provider_id, [subnet] if isinstance(subnet, str) else [], groups)
        if not found:
            continue
        rows = Machine.objects.filter(
            cluster_id=cluster_id,
            namespace=namespace,
            provider_namespace=provider_namespace,
            provider_name=provider_name,
        ).values_list("id", "spec__networking__subnet", "spec__networking__securityGroups")
        ids = [pk for pk, s_, g_ in rows if s_ == subnet and g_ == groups]
        for machine_obj in fleet.machines_by_id(ids).values():
            users.append((object_ref(fleet, machine_obj), provider_id, "spec.networking", found))
    group_provider = {
        (ref.source_id, ref.attributes.get("nodeGroup")): ref.target_id
        for ref in fleet.refs("node-group-provider")
        if ref.resolved
    }
    if group_provider:
        for pk, spec in KubernetesProvider.objects.filter(id__in={k for k, _ in group_provider}).values_list(
            "id", "spec"
        ):
            provider = fleet.kubernetes_providers.get(pk)
            for path, group in KubernetesProvider.node_groups(spec or {}):
                target = group_provider.get((pk, group.get("name")))
                if provider and target and isinstance(group.get("subnets"), list):
                    found = problems(target, [s for s in group["subnets"] if isinstance(s, str)], None)
                    if found:
                        users.append((object_ref(fleet, provider), target, path, found))
    findings = []
    for source, provider_id, path, found in users:
        provider = fleet.machine_providers.get(provider_id)
        if provider is None:
            continue
        offered_subnets, offered_groups = provider_networking(provider_id)
        for what, name in found:
            if what == "subnet":
                findings.append(
                    Finding(
                        "undeclared-networking",
                        WARNING,
                        f"{source} uses subnet {name} ({path}), which {MACHINE_PROVIDER} {provider.address} does not "
                        f"list (it lists {', '.join(sorted(offered_subnets))}).",
                        f"Use one of the provider's subnets, or add {name} to its networking.subnets.",
                        (source, object_ref(fleet, provider)),
                        f"{path}.subnet",
                    )
                )
            else:
                findings.append(
                    Finding(
                        "undeclared-networking",
                        WARNING,
                        f"{source} uses security group {name} ({path}.securityGroups), which {MACHINE_PROVIDER} "
                        f"{provider.address} does not define"
                        + (f" (it defines {', '.join(sorted(offered_groups))})." if offered_groups else "."),
                        f"Define {name} under the provider's networking.securityGroups, or use one it defines.",
                        (source, object_ref(fleet, provider)),
                        f"{path}.securityGroups.{name}",
                    )
                )
    return findings


def cross_namespace_references(fleet: Fleet) -> list[Finding]:
    from machines.models import Machine

    refs = [ref for ref in fleet.stack_refs + fleet.provider_refs if ref.resolved]
    refs += load_refs(
        Reference.objects.filter(target_kind=SECRET, state=Reference.State.RESOLVED).exclude(source_kind=MACHINE)
    )
    # Every machine whose provider lives in another namespace: chosen in the database (a subquery).
    elsewhere = Machine.objects.exclude(provider_namespace="").exclude(provider_namespace=F("namespace"))
    refs += load_refs(
        Reference.objects.filter(
            source_kind=MACHINE,
            source_id__in=elsewhere.values("id"),
            target_entry="",
            state=Reference.State.RESOLVED,
        )
    )
    machines = _with_machines(fleet, refs)
    findings = []
    for ref in refs:
        source_obj = (
            machines.get(ref.source_id) if ref.source_kind == MACHINE else fleet.get(ref.source_kind, ref.source_id)
        )
        if source_obj is None or ref.target_namespace == source_obj.namespace or ref.target_entry:
            continue
        source = object_ref(fleet, source_obj)
        target = fleet.get(ref.target_kind, ref.target_id)
        target_ref = object_ref(fleet, target) if target else missing_ref(fleet, ref)
        words = RELATION_WORDS.get(ref.relation, ref.relation)
        findings.append(
            Finding(
                "cross-namespace-reference",
                INFO,
                f"{source} names {ref.target_kind} {ref.target_address} ({words}, {ref.path}) in namespace "
                f"{ref.target_namespace}, outside its own namespace {source_obj.namespace}.",
                f"The controller needs RBAC to read {ref.target_kind} objects in {ref.target_namespace}; check with "
                f"kubectl auth can-i get {ref.target_kind.lower()}s -n {ref.target_namespace} --as=<controller>. "
                f"Keep it if intended, or move both objects into one namespace.",
                (source, target_ref),
                ref.path,
            )
        )
    return findings


# -- two-sided relationships --------------------------------------------------------------------------


def _resolved_by_source(refs: list[Ref]) -> dict[int, list[Ref]]:
    found: dict[int, list[Ref]] = defaultdict(list)
    for ref in refs:
        found[ref.source_id].append(ref)
    return found


def _stack_ref(fleet: Fleet, pk: int) -> ObjectRef:
    return object_ref(fleet, fleet.stacks[pk])


def _block(obj: Obj) -> str:
    return f"{{name: {obj.name}, namespace: {obj.namespace}}}"


def _pair_check(fleet, slug, forward, backward, forward_words, backward_field, backward_list_field):
    """``forward`` refs (A lists B) must be matched by a ``backward`` ref (B names A), and the reverse."""
    forward_refs = fleet.refs(forward)
    backward_refs = fleet.refs(backward)
    forward_by_source = _resolved_by_source(forward_refs)
    backward_by_source = _resolved_by_source(backward_refs)
    findings = []
    for ref in forward_refs:
        if not ref.resolved or ref.target_id not in fleet.stacks or ref.source_id not in fleet.stacks:
            continue
        a, b = fleet.stacks[ref.source_id], fleet.stacks[ref.target_id]
        back = backward_by_source.get(b.id, [])
        if any(r.resolved and r.target_id == a.id for r in back):
            continue
        says = f"its {backward_field} names {back[0].target_address}" if back else f"it has no {backward_field}"
        findings.append(
            Finding(
                slug,
                WARNING,
                f"{VITISTACK} {a.address} lists {b.address} as its {forward_words} ({ref.path}), but {b.address} does not "
                f"point back: {says}.",
                f"Set spec.{backward_field}: {_block(a)} on {b.address}, or remove the entry at {ref.path} of {a.address}.",
                (object_ref(fleet, a), object_ref(fleet, b)),
                ref.path,
            )
        )
    for ref in backward_refs:
        if not ref.resolved or ref.target_id not in fleet.stacks or ref.source_id not in fleet.stacks:
            continue
        b, a = fleet.stacks[ref.source_id], fleet.stacks[ref.target_id]
        listed = forward_by_source.get(a.id, [])
        if any(r.resolved and r.target_id == b.id for r in listed):
            continue
        same_name = [r for r in listed if r.target_name == b.name and not r.resolved]
        if same_name:
            near = same_name[0]
            says = (
                f"it lists {near.target_address} ({near.path}), which does not exist; the {VITISTACK} is in "
                f"namespace {b.namespace}"
            )
            fix = f"Set namespace: {b.namespace} at {near.path} of {a.address}."
        else:
            says = f"its {backward_list_field} do not include it"
            fix = (
                f"Add {_block(b)} to spec.{backward_list_field} of {a.address}, or remove spec.{backward_field} "
                f"from {b.address}."
            )
        findings.append(
            Finding(
                slug,
                WARNING,
                f"{VITISTACK} {b.address} names {a.address} as its {backward_field} ({ref.path}), but {a.address} does not "
                f"list it: {says}.",
                fix,
                (object_ref(fleet, b), object_ref(fleet, a)),
                ref.path,
            )
        )
    return findings


def dr_back_references(fleet: Fleet) -> list[Finding]:
    findings = _pair_check(
        fleet,
        "dr-back-reference",
        "replication-target",
        "primary",
        "disaster-recovery replication target",
        "primaryVitistack",
        "disasterRecovery.replicationTargets",
    )
    # The published shape has no primaryVitistack: its pairs are checked for a way back instead.
    return [finding for finding in findings if finding.path != PUBLISHED_DR_PATH] + published_dr_way_back(fleet)


def published_dr_way_back(fleet: Fleet) -> list[Finding]:
    """A published DR pair A -> B where B's own DR target is not A: after a failover there is no way back."""
    targets = {ref.source_id: ref for ref in fleet.refs("replication-target") if ref.path == PUBLISHED_DR_PATH}
    findings = []
    for source_id, ref in targets.items():
        if not ref.resolved or ref.target_id not in fleet.stacks or source_id not in fleet.stacks:
            continue
        a, b = fleet.stacks[source_id], fleet.stacks[ref.target_id]
        back = targets.get(b.id)
        if back is not None and back.resolved and back.target_id == a.id:
            continue
        says = f"its target is {back.target_name}" if back is not None else "it has no disaster-recovery target"
        findings.append(
            Finding(
                "dr-back-reference",
                WARNING,
                f"{VITISTACK} {a.address} replicates to {b.address} ({ref.path}), but {b.address} does not replicate "
                f"back: {says}. After a failover to {b.address} there is no way back.",
                f"Set spec.backup.disasterRecovery.targetVitistack: {a.name} on {b.address}, if it should fail back.",
                (object_ref(fleet, a), object_ref(fleet, b)),
                ref.path,
            )
        )
    return findings


def edge_back_references(fleet: Fleet) -> list[Finding]:
    return _pair_check(
        fleet,
        "edge-back-reference",
        "edge-location",
        "management",
        "edge location",
        "managementVitistack",
        "edgeManagement.edgeLocations",
    )


def hierarchy_back_references(fleet: Fleet) -> list[Finding]:
    return _pair_check(
        fleet, "hierarchy-back-reference", "child", "parent", "child", "parentVitistack", "childVitistacks"
    )


def dr_targets(fleet: Fleet) -> list[Finding]:
    """A replication target must be a disaster-recovery stack, and be where the primary says it is."""
    findings = []
    for ref in fleet.refs("replication-target"):
        if not ref.resolved or ref.target_id not in fleet.stacks or ref.source_id not in fleet.stacks:
            continue
        primary, secondary = fleet.stacks[ref.source_id], fleet.stacks[ref.target_id]
        pair = (object_ref(fleet, primary), object_ref(fleet, secondary))
        if secondary.role != "disaster-recovery" and ref.path != PUBLISHED_DR_PATH:
            findings.append(
                Finding(
                    "dr-target",
                    WARNING,
                    f"{secondary.address} is a replication target of {primary.address} but its role is "
                    f"{secondary.role or 'not set'}, not disaster-recovery.",
                    f"Set spec.role: disaster-recovery on {secondary.address}.",
                    pair,
                    f"{ref.path}.role",
                )
            )
        declared_region = ref.attributes.get("region")
        if declared_region and secondary.region and declared_region != secondary.region:
            findings.append(
                Finding(
                    "dr-target",
                    WARNING,
                    f"{primary.address} declares its replication target {secondary.address} in region {declared_region} "
                    f"({ref.path}.region), but {secondary.address} is in region {secondary.region}.",
                    f"Set region: {secondary.region} at {ref.path}, or check that the right target is named.",
                    pair,
                    f"{ref.path}.region",
                )
            )
        if primary.region and primary.region == secondary.region:
            findings.append(
                Finding(
                    "dr-target",
                    WARNING,
                    f"{primary.address} replicates to {secondary.address} in the same region ({primary.region}): "
                    f"a regional outage takes both.",
                    "Replicate to a Vitistack in another region.",
                    pair,
                    f"{ref.path}.sameRegion",
                )
            )
        declared_provider = ref.attributes.get("provider")
        types = {
            fleet.machine_providers[pk].provider_type
            for kind, pk, _ in fleet.stack_provider_ids.get(secondary.id, [])
            if kind == MACHINE_PROVIDER and fleet.machine_providers[pk].provider_type
        }
        if declared_provider and types and declared_provider not in types:
            findings.append(
                Finding(
                    "dr-target",
                    WARNING,
                    f"{primary.address} declares its replication target {secondary.address} on provider "
                    f"{declared_provider} ({ref.path}.provider), but {secondary.address}'s machine providers are "
                    f"{', '.join(sorted(types))}.",
                    f"Set provider: {sorted(types)[0]} at {ref.path}, or check that the right target is named.",
                    pair,
                    f"{ref.path}.provider",
                )
            )
    return findings


# -- cycles -------------------------------------------------------------------------------------------


def strongly_connected(nodes, edges: dict) -> list[list]:
    """Tarjan's algorithm, iterative; components with more than one node or a self-loop."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    result.append(component[::-1])
    return result


def hierarchy_edges(fleet: Fleet) -> dict[int, set[int]]:
    """parent id -> child ids, from both sides (childVitistacks and parentVitistack)."""
    return fleet.memo("hierarchy_edges", lambda: _hierarchy_edges(fleet))


def _hierarchy_edges(fleet: Fleet) -> dict[int, set[int]]:
    edges: dict[int, set[int]] = defaultdict(set)
    for ref in fleet.refs("child", "parent"):
        if ref.resolved and ref.target_id in fleet.stacks:
            parent, child = (
                (ref.source_id, ref.target_id) if ref.relation == "child" else (ref.target_id, ref.source_id)
            )
            edges[parent].add(child)
    return edges


def cycles(fleet: Fleet) -> list[Finding]:
    findings = []
    hierarchy = hierarchy_edges(fleet)
    for component in strongly_connected(sorted(hierarchy), hierarchy):
        members = [fleet.stacks[pk] for pk in component]
        chain = " → ".join(obj.address for obj in members + members[:1])
        findings.append(
            Finding(
                "cycle",
                ERROR,
                f"The Vitistack hierarchy has a cycle: {chain}. Inherited policies and limits have no root.",
                "Break the cycle: remove one parentVitistack / childVitistacks entry so that each Vitistack has one "
                "ancestry ending at a global Vitistack.",
                tuple(object_ref(fleet, obj) for obj in members),
                "hierarchy",
            )
        )
    failover: dict[int, set[int]] = defaultdict(set)
    for ref in fleet.refs("failover-target"):
        if ref.resolved and ref.target_id in fleet.machine_providers:
            failover[ref.source_id].add(ref.target_id)
    for component in strongly_connected(sorted(failover), failover):
        members = [fleet.machine_providers[pk] for pk in component]
        chain = " → ".join(obj.address for obj in members + members[:1])
        findings.append(
            Finding(
                "cycle",
                ERROR,
                f"Machine provider failover forms a cycle: {chain}. When all of them are unhealthy, workloads bounce "
                f"between them.",
                "Make the chain end: remove the failover target that points back to an earlier provider.",
                tuple(object_ref(fleet, obj) for obj in members),
                "failover",
            )
        )
    return findings


# -- quotas -------------------------------------------------------------------------------------------


def stack_quotas(fleet: Fleet) -> list[Finding]:
    findings = []
    for stack in fleet.stacks.values():
        usage = fleet.stack_usage(stack.id)
        subject = (object_ref(fleet, stack),)
        if stack.max_machines is not None:
            if usage["machines"] > stack.max_machines:
                findings.append(
                    Finding(
                        "quota",
                        ERROR,
                        f"{stack.address} has {usage['machines']} machines counted for it (on machine providers only it "
                        f"lists), beyond its resourceQuotas.maxMachines of {stack.max_machines}.",
                        f"Raise spec.resourceQuotas.maxMachines of {stack.address}, or remove "
                        f"{usage['machines'] - stack.max_machines} machines.",
                        subject,
                        "spec.resourceQuotas.maxMachines",
                    )
                )
            elif usage["machines"] + usage["node_group_nodes"] > stack.max_machines:
                total = usage["machines"] + usage["node_group_nodes"]
                findings.append(
                    Finding(
                        "quota",
                        WARNING,
                        f"{stack.address} has {usage['machines']} machines and its Kubernetes node groups want "
                        f"{usage['node_group_nodes']} nodes more than the Machines found as their nodes: {total} against "
                        f"resourceQuotas.maxMachines {stack.max_machines}.",
                        "Lower the node groups' desiredSize, or raise maxMachines.",
                        subject,
                        "spec.resourceQuotas.maxMachines#nodes",
                    )
                )
        if stack.max_clusters is not None and usage["clusters"] > stack.max_clusters:
            findings.append(
                Finding(
                    "quota",
                    ERROR,
                    f"{stack.address} has {usage['clusters']} Kubernetes providers (clusters) counted for it, beyond its "
                    f"resourceQuotas.maxClusters of {stack.max_clusters}.",
                    "Raise maxClusters or remove Kubernetes providers.",
                    subject,
                    "spec.resourceQuotas.maxClusters",
                )
            )
        if stack.max_providers is not None and usage["providers"] > stack.max_providers:
            findings.append(
                Finding(
                    "quota",
                    ERROR,
                    f"{stack.address} has {usage['providers']} providers counted for it, beyond its resourceQuotas.maxProviders of "
                    f"{stack.max_providers}.",
                    "Raise maxProviders or remove providers.",
                    subject,
                    "spec.resourceQuotas.maxProviders",
                )
            )
    return findings


def global_limits(stack: Obj) -> dict:
    limits = as_dict(as_dict(stack.spec.get("globalPolicies")).get("resourceLimits"))
    return {"machines": as_int(limits.get("globalMaxMachines")), "clusters": as_int(limits.get("globalMaxClusters"))}


def children_limits(fleet: Fleet) -> list[Finding]:
    findings = []
    for parent_id, children in hierarchy_edges(fleet).items():
        parent = fleet.stacks[parent_id]
        limits = global_limits(parent)
        kids = [fleet.stacks[pk] for pk in sorted(children) if pk != parent_id]
        for key, field, attr in (
            ("machines", "globalMaxMachines", "max_machines"),
            ("clusters", "globalMaxClusters", "max_clusters"),
        ):
            if limits[key] is None:
                continue
            total = sum(getattr(kid, attr) or 0 for kid in kids)
            if total > limits[key]:
                parts = ", ".join(f"{kid.name} {getattr(kid, attr)}" for kid in kids if getattr(kid, attr))
                findings.append(
                    Finding(
                        "quota",
                        ERROR,
                        f"The children of {parent.address} may use {total} {key} together ({parts}), beyond its "
                        f"globalPolicies.resourceLimits.{field} of {limits[key]}.",
                        f"Lower the children's resourceQuotas.max{key.title()}, or raise {field} of {parent.address}.",
                        (object_ref(fleet, parent), *(object_ref(fleet, kid) for kid in kids)),
                        f"spec.globalPolicies.resourceLimits.{field}",
                    )
                )
    return findings


@dataclass
class EdgeLink:
    """A management Vitistack and one edge location, as either side declares it."""

    central: Obj
    edge: Obj | None
    location: Ref | None  # the central's edgeLocations entry
    back: Ref | None  # the edge's managementVitistack

    @property
    def limits(self) -> dict:
        attributes = self.location.attributes if self.location else {}
        return {"machines": as_int(attributes.get("maxMachines")), "clusters": as_int(attributes.get("maxClusters"))}


def edge_links(fleet: Fleet) -> list[EdgeLink]:
    """Every central → edge pairing; a back-reference alone is paired with the central's same-named entry."""
    links: dict[tuple, EdgeLink] = {}
    for ref in fleet.refs("edge-location"):
        central = fleet.stacks.get(ref.source_id)
        if central is None:
            continue
        edge = fleet.stacks.get(ref.target_id) if ref.resolved else None
        key = (central.id, edge.id) if edge else (central.id, f"missing:{ref.id}")
        links[key] = EdgeLink(central, edge, ref, None)
    for ref in fleet.refs("management"):
        if not ref.resolved or ref.target_id not in fleet.stacks or ref.source_id not in fleet.stacks:
            continue
        central, edge = fleet.stacks[ref.target_id], fleet.stacks[ref.source_id]
        if (central.id, edge.id) in links:
            links[(central.id, edge.id)].back = ref
            continue
        location = next(
            (
                link.location
                for key, link in links.items()
                if key[0] == central.id and link.edge is None and link.location.target_name == edge.name
            ),
            None,
        )
        links[(central.id, edge.id)] = EdgeLink(central, edge, location, ref)
    return list(links.values())


def edge_limits(fleet: Fleet) -> list[Finding]:
    findings = []
    for link in edge_links(fleet):
        if link.edge is None or link.location is None:
            continue
        edge, central = link.edge, link.central
        usage = fleet.stack_usage(edge.id)
        pair = (object_ref(fleet, edge), object_ref(fleet, central))
        for key, used, own in (
            ("machines", usage["machines"], edge.max_machines),
            ("clusters", usage["clusters"], edge.max_clusters),
        ):
            limit = link.limits[key]
            if limit is None:
                continue
            label = f"max{key.title()}"
            if used > limit:
                findings.append(
                    Finding(
                        "quota",
                        ERROR,
                        f"Edge location {edge.address} uses {used} {key}, beyond the {label} of {limit} that "
                        f"{central.address} allows it ({link.location.path}).",
                        f"Remove {used - limit} {key} from {edge.address}, or raise {label} at {link.location.path}.",
                        pair,
                        f"{link.location.path}.{label}",
                    )
                )
            if own is not None and own > limit:
                findings.append(
                    Finding(
                        "quota",
                        WARNING,
                        f"Edge location {edge.address} allows itself {own} {key} (resourceQuotas.{label}) but "
                        f"{central.address} allows it only {limit} ({link.location.path}).",
                        f"Align the two: lower {edge.address}'s resourceQuotas.{label} to {limit}, or raise the location's.",
                        pair,
                        f"{link.location.path}.{label}#own",
                    )
                )
    return findings


# -- roles, unused and incomplete objects -------------------------------------------------------------


def roles(fleet: Fleet) -> list[Finding]:
    """The role a Vitistack declares should match the relationships it declares."""
    implied: dict[int, set[str]] = defaultdict(set)
    reasons: dict[int, list[str]] = defaultdict(list)
    edges = hierarchy_edges(fleet)
    has_parent = {child for children in edges.values() for child in children}
    for ref in fleet.stack_refs:
        role = {
            "replication-target": "primary",
            "primary": "disaster-recovery",
            "edge-location": "management",
            "management": "edge",
            "child": "global",
        }.get(ref.relation)
        if ref.relation == "parent":
            # global → regional → child: a stack under a root, or with children of its own, is regional.
            parent_is_root = ref.resolved and ref.target_id not in has_parent
            role = "regional" if parent_is_root or ref.source_id in edges else None
        if role:
            implied[ref.source_id].add(role)
            reasons[ref.source_id].append(ref.path.split("[")[0])
    findings = []
    for pk, roles_ in implied.items():
        stack = fleet.stacks.get(pk)
        if stack is None or published_stack(stack):  # the published shape has no role field
            continue
        if "regional" in roles_:
            roles_.discard("global")  # a stack with a parent and children is regional
        because = ", ".join(sorted(set(reasons[pk])))
        wanted = " or ".join(sorted(roles_))
        if not stack.role:
            findings.append(
                Finding(
                    "role",
                    INFO,
                    f"{stack.address} sets no role; its {because} make it a {wanted} Vitistack.",
                    f"Set spec.role: {sorted(roles_)[0]} so that tools and people can tell what it is for.",
                    (object_ref(fleet, stack),),
                    "spec.role",
                )
            )
        elif stack.role not in roles_:
            findings.append(
                Finding(
                    "role",
                    WARNING,
                    f"{stack.address} has role {stack.role}, but its {because} make it a {wanted} Vitistack.",
                    f"Set spec.role: {sorted(roles_)[0]}, or remove the relationships that do not belong to a "
                    f"{stack.role} Vitistack.",
                    (object_ref(fleet, stack),),
                    "spec.role",
                )
            )
    return findings


def unused_providers(fleet: Fleet) -> list[Finding]:
    listed = fleet.stacks_listing()
    used_by_failover = {ref.target_id for ref in fleet.refs("failover-target") if ref.resolved}
    used_by_groups = {ref.target_id for ref in fleet.refs("node-group-provider") if ref.resolved}
    shares = _resolved_by_source([ref for ref in fleet.refs("shared-with")])
    findings = []
    for provider in fleet.machine_providers.values():
        key = provider.key
        provider_shares = shares.get(provider.id, [])
        for ref in provider_shares:
            if not ref.resolved or ref.target_id not in fleet.stacks:
                continue
            stack = fleet.stacks[ref.target_id]
            if stack.id not in listed.get(key, []):
                findings.append(
                    Finding(
                        "unused-provider",
                        INFO,
                        f"{provider.address} is shared with {stack.address} ({ref.path}), but {stack.address} does not "
                        f"list it in spec.machineProviders, so it cannot use it.",
                        f"Add {_block(provider)} (with a priority) to spec.machineProviders of {stack.address}, or drop "
                        f"the share.",
                        (object_ref(fleet, provider), object_ref(fleet, stack)),
                        ref.path,
                    )
                )
        if (
            key in listed
            or provider.id in used_by_failover
            or provider.id in used_by_groups
            or provider_shares
            or fleet.machines_per_provider.get(provider.id)
        ):
            continue
        findings.append(
            Finding(
                "unused-provider",
                INFO,
                f"No Vitistack lists {MACHINE_PROVIDER} {provider.address}, no provider fails over to it and no machine "
                f"or node group runs on it.",
                "Add it to a Vitistack's spec.machineProviders, or delete it if it is left over.",
                (object_ref(fleet, provider),),
                "spec",
            )
        )
    for provider in fleet.kubernetes_providers.values():
        if provider.key not in listed:
            findings.append(
                Finding(
                    "unused-provider",
                    INFO,
                    f"No Vitistack lists {KUBERNETES_PROVIDER} {provider.address}.",
                    "Add it to a Vitistack's spec.kubernetesProviders, or delete it if it is left over.",
                    (object_ref(fleet, provider),),
                    "spec",
                )
            )
    return findings


def incomplete_providers(fleet: Fleet) -> list[Finding]:
    from providers.models import KubernetesProvider

    kubernetes_specs = dict(KubernetesProvider.objects.values_list("id", "spec"))
    findings = []
    for objects, specs in (
        (fleet.machine_providers, fleet.machine_provider_specs),
        (fleet.kubernetes_providers, kubernetes_specs),
    ):
        for pk, provider in objects.items():
            spec = specs.get(pk) or {}
            if isinstance(spec.get("providerType"), str) and spec["providerType"]:
                continue  # the published shape: a providerType and no per-type block
            kind_type = spec.get("type")
            if not isinstance(kind_type, str) or not kind_type:
                findings.append(
                    Finding(
                        "incomplete-provider",
                        WARNING,
                        f"{provider.kind} {provider.address} sets no spec.type.",
                        "Set spec.type (aws, azure, ...) and its configuration block.",
                        (object_ref(fleet, provider),),
                        "spec.type",
                    )
                )
            elif not isinstance(spec.get(kind_type), dict) or not spec.get(kind_type):
                missing = (
                    "credentials, instance types, images or networking"
                    if provider.kind == MACHINE_PROVIDER
                    else "credentials or node groups"
                )
                findings.append(
                    Finding(
                        "incomplete-provider",
                        WARNING,
                        f"{provider.kind} {provider.address} has type {kind_type} but no spec.{kind_type} block: it "
                        f"declares no {missing}.",
                        f"Add the spec.{kind_type} block (credentials.secretRef, ...).",
                        (object_ref(fleet, provider),),
                        f"spec.{kind_type}",
                    )
                )
    return findings


def controller_rbac(fleet: Fleet) -> list[Finding]:
    # The clusters' answers are asked and stored by each cluster's monitor (vitiweb.monitoring.rbac).
    from vitiweb.monitoring.rbac import findings

    return findings(fleet)


# -- the published API's own relationships ------------------------------------------------------------


def unoffered_machine_classes(fleet: Fleet) -> list[Finding]:
    """A MachineClass whose provider types no machine provider of its cluster offers: nothing can run it."""
    from machineclasses.models import MachineClass, provider_types
    from providers.models import MachineProvider

    offered: dict[int, set[str]] = defaultdict(set)
    for cluster_id, provider_type in MachineProvider.objects.values_list("cluster_id", "provider_type"):
        if provider_type:
            offered[cluster_id].add(provider_type)
    findings = []
    for machine_class in MachineClass.objects.only("id", "cluster_id", "namespace", "name", "spec"):
        types = provider_types(machine_class.spec if isinstance(machine_class.spec, dict) else {})
        if not types or set(types) & offered[machine_class.cluster_id]:
            continue
        have = ", ".join(sorted(offered[machine_class.cluster_id])) or "none"
        findings.append(
            Finding(
                "unoffered-machine-class",
                WARNING,
                f"MachineClass {machine_class.name} may run on {', '.join(types)}, but no machine provider of its "
                f"cluster offers that type (they offer: {have}).",
                "Add a machine provider of one of those types, or add an offered type to spec.machineProviders.",
                (
                    ObjectRef(
                        "MachineClass",
                        machine_class.pk,
                        fleet.clusters.get(machine_class.cluster_id, ""),
                        machine_class.namespace,
                        machine_class.name,
                    ),
                ),
                "spec.machineProviders",
            )
        )
    return findings


def stack_status_versus_spec(fleet: Fleet) -> list[Finding]:
    """The providers a Vitistack's operator reports (status) and those its spec lists should agree."""
    findings = []
    for relation, reported in (
        ("machine-provider", "reported-machine-provider"),
        ("kubernetes-provider", "reported-kubernetes-provider"),
    ):
        declared: dict[int, set[str]] = defaultdict(set)
        found: dict[int, set[str]] = defaultdict(set)
        for ref in fleet.refs(relation):
            declared[ref.source_id].add(ref.target_name)
        for ref in fleet.refs(reported):
            found[ref.source_id].add(ref.target_name)
        for pk in set(found) | set(declared):
            stack = fleet.stacks.get(pk)
            if stack is None or not published_stack(stack) or pk not in found:
                continue  # an operator that reports nothing yet says nothing either way
            words = RELATION_WORDS[relation]
            for name in sorted(found[pk] - declared[pk]):
                findings.append(
                    Finding(
                        "status-versus-spec",
                        INFO,
                        f"The operator reports {words} {name} for {stack.address} (status), but its spec does not list it.",
                        f"Add {name} to the spec's provider list of {stack.address} if it should be used.",
                        (object_ref(fleet, stack),),
                        f"status.{relation}.{name}",
                    )
                )
            for name in sorted(declared[pk] - found[pk]):
                findings.append(
                    Finding(
                        "status-versus-spec",
                        WARNING,
                        f"{stack.address} lists {words} {name} in its spec, but its operator does not report it.",
                        f"Check that {name} exists and is healthy in the cluster of {stack.address}.",
                        (object_ref(fleet, stack),),
                        f"spec.{relation}.{name}",
                    )
                )
    return findings


CHECKS = [
    Check(
        "dangling-reference",
        "Dangling reference",
        dangling_references,
        "A reference names an object that does not exist anywhere in the fleet.",
    ),
    Check(
        "ambiguous-reference",
        "Ambiguous reference",
        ambiguous_references,
        "A reference names an object that several other clusters hold.",
    ),
    Check(
        "missing-secret",
        "Missing Secret",
        missing_secrets,
        "A secretRef names a Secret that its cluster does not have (checked by name only).",
    ),
    Check(
        "undeclared-entry",
        "Instance type or image not offered",
        undeclared_entries,
        "A machine or node group uses an instance type or image its provider does not declare.",
    ),
    Check(
        "undeclared-networking",
        "Subnet or security group not defined",
        undeclared_networking,
        "A machine or node group uses a subnet or security group its provider does not define.",
    ),
    Check(
        "dr-back-reference",
        "DR target without back-reference",
        dr_back_references,
        "A replication target whose primaryVitistack does not point back, or the reverse.",
    ),
    Check(
        "dr-target",
        "DR target mismatch",
        dr_targets,
        "A replication target whose role, region or provider differs from what the primary declares.",
    ),
    Check(
        "edge-back-reference",
        "Edge location without back-reference",
        edge_back_references,
        "An edge location whose managementVitistack does not name the central one, or the reverse.",
    ),
    Check(
        "hierarchy-back-reference",
        "Child without back-reference",
        hierarchy_back_references,
        "A child whose parentVitistack does not name the parent that lists it, or the reverse.",
    ),
    Check("cycle", "Cycle", cycles, "A cycle in the Vitistack hierarchy or in machine provider failover."),
    Check(
        "quota",
        "Quota over-subscription",
        lambda fleet: stack_quotas(fleet) + children_limits(fleet) + edge_limits(fleet),
        "Machines, clusters or providers beyond a Vitistack's quotas, children's limits beyond the parent's global "
        "limits, edge use beyond the location's limits.",
    ),
    Check(
        "cross-namespace-reference",
        "Cross-namespace reference",
        cross_namespace_references,
        "A reference into another namespace (needs RBAC for the controller).",
    ),
    Check(
        "role",
        "Role does not match relationships",
        roles,
        "A Vitistack whose role is missing or contradicts what it declares.",
    ),
    Check(
        "unused-provider",
        "Unused provider",
        unused_providers,
        "A provider no Vitistack lists, or shared with a Vitistack that does not list it.",
    ),
    Check(
        "incomplete-provider",
        "Incomplete provider",
        incomplete_providers,
        "A provider whose type-specific configuration block is missing.",
    ),
    Check(
        "naming-convention",
        "Name breaks the naming convention",
        conventions.naming,
        "Names that do not follow the guide's patterns (settings: VITIWEB_CONVENTIONS['names']).",
    ),
    Check(
        "recommended-metadata",
        "Recommended labels or annotations missing",
        conventions.recommended_metadata,
        "Objects without the labels and annotations the guide recommends.",
    ),
    Check(
        "environment-placement",
        "Environment label and namespace disagree",
        conventions.environment_placement,
        "Objects outside their environment's namespace, or labelled with another environment than the namespace's.",
    ),
    Check(
        "controller-rbac",
        "Controller may not read a cross-namespace target",
        controller_rbac,
        "The cluster (SubjectAccessReview) says the controllers' service account may not get an object another "
        "namespace's object references.",
    ),
    Check(
        "unoffered-machine-class",
        "Machine class nothing offers",
        unoffered_machine_classes,
        "A MachineClass whose provider types no machine provider of its cluster offers.",
    ),
    Check(
        "status-versus-spec",
        "Status and spec disagree",
        stack_status_versus_spec,
        "A Vitistack whose operator reports a provider its spec does not list, or the reverse.",
    ),
]
