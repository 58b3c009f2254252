"""A drawable graph, the collapsing of siblings, and its layered layout.

Nodes and edges carry what the picture shows (label, state, a few hover
lines) and nothing else; the side panel asks the server for details. Siblings
that are leaves in the same state collapse into one counted node until the
operator expands them, as ``clusterctl describe`` groups machines, so a fleet
of hundreds of stacks and thousands of machines stays readable.

The layout is python-igraph's Sugiyama (layered) layout per connected
component, components packed on shelves so that a fleet of many small
pictures (DR pairs, failover chains) fills the screen instead of one long line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from vitiweb.fleet import MISSING, READY

GROUP = "group"
HEALTHY = "healthy"
TOP_DOWN, LEFT_RIGHT = "TB", "LR"
#: Left-right pictures put layers further apart than rows: their labels are long and sit under the nodes.
LR_SPREAD = 3.0

#: Edge styles: how an edge is drawn, and what its legend entry says.
SOLID, ONE_SIDED, DANGLING, DEPENDS, MISMATCH = "declared", "one-sided", "dangling", "secondary", "mismatch"


@dataclass
class Node:
    id: str
    kind: str
    label: str
    state: str
    pk: int | None = None
    sublabel: str = ""
    hover: list[str] = field(default_factory=list)
    severity: str | None = None  # the worst finding about it
    count: int = 1  # >1 for a collapsed group
    expand: str = ""  # the key that expands this group
    missing_address: tuple[str, str, str] = ("", "", "")  # kind, namespace, name of a missing target


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    style: str = SOLID
    hover: str = ""


class Graph:
    def __init__(self):
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self._edge_index: dict[tuple[str, str], Edge] = {}

    def add_node(self, node: Node) -> Node:
        return self.nodes.setdefault(node.id, node)

    def add_edge(self, edge: Edge) -> None:
        """Add an edge; a second edge between the same two nodes joins its label to the first one's."""
        if edge.source not in self.nodes or edge.target not in self.nodes:
            return
        key = (edge.source, edge.target)
        if key in self._edge_index:
            existing = self._edge_index[key]
            if edge.label and edge.label not in existing.label.split(", "):
                existing.label = f"{existing.label}, {edge.label}" if existing.label else edge.label
            return
        self._edge_index[key] = edge
        self.edges.append(edge)

    def components(self) -> list[list[str]]:
        neighbours: dict[str, set[str]] = defaultdict(set)
        for edge in self.edges:
            neighbours[edge.source].add(edge.target)
            neighbours[edge.target].add(edge.source)
        seen, result = set(), []
        for start in self.nodes:
            if start in seen:
                continue
            component, stack = [], [start]
            seen.add(start)
            while stack:
                node = stack.pop()
                component.append(node)
                for other in neighbours[node]:
                    if other not in seen:
                        seen.add(other)
                        stack.append(other)
            result.append(component)
        return result

    def keep_components(self, predicate) -> int:
        """Keep only the connected components with a node matching ``predicate``; returns how many remain."""
        kept = [component for component in self.components() if any(predicate(self.nodes[n]) for n in component)]
        keep = {node for component in kept for node in component}
        self.nodes = {key: node for key, node in self.nodes.items() if key in keep}
        self.edges = [edge for edge in self.edges if edge.source in keep and edge.target in keep]
        self._edge_index = {(edge.source, edge.target): edge for edge in self.edges}
        return len(kept)


def collapse(graph: Graph, expanded: set[str], threshold: int = 6) -> None:
    """Fold leaf siblings of one parent that share kind, state and edge style into a counted node."""
    out_degree: dict[str, int] = defaultdict(int)
    in_edges: dict[str, list[Edge]] = defaultdict(list)
    for edge in graph.edges:
        out_degree[edge.source] += 1
        in_edges[edge.target].append(edge)
    groups: dict[tuple, list[Edge]] = defaultdict(list)
    for node_id, edges in in_edges.items():
        node = graph.nodes[node_id]
        if len(edges) == 1 and not out_degree[node_id] and node.count == 1:
            edge = edges[0]
            groups[(edge.source, node.kind, node.state, edge.style, node.severity)].append(edge)
    for (parent, kind, state, style, severity), edges in groups.items():
        key = f"{parent}|{kind}|{state}|{style}|{severity or ''}"
        if len(edges) <= threshold or key in expanded:
            continue
        members = [graph.nodes[edge.target] for edge in edges]
        labels = {edge.label for edge in edges}
        group_id = f"{GROUP}:{key}"
        names = sorted(member.label for member in members)
        graph.nodes[group_id] = Node(
            id=group_id,
            kind=kind,
            label=f"{len(members)} × {kind}",
            state=state,
            count=len(members),
            expand=key,
            sublabel=f"{state}" + (f" · {severity}" if severity else ""),
            severity=severity,
            hover=[
                f"{len(members)} {kind} objects, {state}",
                *names[:8],
                *(["…"] if len(names) > 8 else []),
                "Click to expand",
            ],
        )
        removed = {member.id for member in members}
        for member_id in removed:
            del graph.nodes[member_id]
        graph.edges = [edge for edge in graph.edges if edge.target not in removed]
        graph._edge_index = {(edge.source, edge.target): edge for edge in graph.edges}
        graph.add_edge(Edge(parent, group_id, labels.pop() if len(labels) == 1 else "", style))


@dataclass
class Placement:
    positions: dict[str, tuple[float, float]]
    routes: list[list[tuple[float, float]]]  # one polyline per graph edge, in graph.edges order
    width: float
    height: float


def layout(graph: Graph, direction: str = TOP_DOWN, max_row_width: float | None = None) -> Placement:
    """Layered layout of each component, components packed on shelves; y grows downwards in layers."""
    order = {node_id: index for index, node_id in enumerate(graph.nodes)}
    edges_by_component: dict[int, list[int]] = defaultdict(list)
    components = sorted(graph.components(), key=lambda c: (-len(c), min(order[n] for n in c)))
    component_of = {}
    for index, component in enumerate(components):
        for node in component:
            component_of[node] = index
    for edge_index, edge in enumerate(graph.edges):
        edges_by_component[component_of[edge.source]].append(edge_index)

    placed = []  # (positions, routes {edge index: points}, width, height) in layer coordinates
    for index, component in enumerate(components):
        local = {node: i for i, node in enumerate(component)}
        edge_indexes = edges_by_component[index]
        if len(component) == 1:
            placed.append(({component[0]: (0.0, 0.0)}, {}, 1.0, 1.0))
            continue
        pairs = [(local[graph.edges[i].source], local[graph.edges[i].target]) for i in edge_indexes]
        simple = _chain_layout(len(component), pairs)
        routes = {}
        if simple is not None:
            # Chains (failover, DR pairs) need no crossing reduction: one node per layer.
            positions = {node: simple[i] for node, i in local.items()}
        else:
            import igraph  # only where a component is not a chain; the topology URLs load without it

            result = igraph.Graph(n=len(component), edges=pairs, directed=True).layout_sugiyama(hgap=1, vgap=1)
            coords = [tuple(point) for point in result.coords[: len(component)]]
            min_x = min(x for x, _ in coords)
            positions = {node: (coords[i][0] - min_x, coords[i][1]) for node, i in local.items()}
            for position, edge_index in enumerate(edge_indexes):
                controls = result.edge_routing[position] if position < len(result.edge_routing) else []
                if len(controls):
                    routes[edge_index] = [(float(x) - min_x, float(y)) for x, y in controls]
        width = max(x for x, _ in positions.values()) + 1
        height = max(y for _, y in positions.values()) + 1
        placed.append((positions, routes, width, height))

    # Shelf packing: in the drawn orientation, fill rows up to a width that keeps the picture near 16:10.
    def drawn(w, h):
        return (w, h) if direction == TOP_DOWN else (h * LR_SPREAD, w)

    total_area = sum(drawn(w, h)[0] * drawn(w, h)[1] for _, _, w, h in placed) or 1
    widest = max((drawn(w, h)[0] for _, _, w, h in placed), default=1)
    row_limit = max_row_width or max(widest, (total_area * 1.6) ** 0.5)
    offsets, cursor_x, cursor_y, row_height = [], 0.0, 0.0, 0.0
    for _, _, w, h in placed:
        dw, dh = drawn(w, h)
        if cursor_x > 0 and cursor_x + dw > row_limit:
            cursor_x, cursor_y, row_height = 0.0, cursor_y + row_height + 0.6, 0.0
        offsets.append((cursor_x, cursor_y))
        cursor_x += dw + 0.6
        row_height = max(row_height, dh)

    positions: dict[str, tuple[float, float]] = {}
    route_points: dict[int, list[tuple[float, float]]] = {}

    def place(point, offset):
        x, y = point
        if direction == LEFT_RIGHT:
            x, y = y * LR_SPREAD, x
        return (x + offset[0], y + offset[1])

    for (component_positions, routes, _, _), offset in zip(placed, offsets, strict=True):
        for node, point in component_positions.items():
            positions[node] = place(point, offset)
        for edge_index, points in routes.items():
            route_points[edge_index] = [place(point, offset) for point in points]
    routes = []
    for edge_index, edge in enumerate(graph.edges):
        routes.append([positions[edge.source], *route_points.get(edge_index, []), positions[edge.target]])
    width = max((x for x, _ in positions.values()), default=0) + 1
    height = max((y for _, y in positions.values()), default=0) + 1
    return Placement(positions, routes, width, height)


def _chain_layout(count: int, pairs: list[tuple[int, int]]) -> list[tuple[float, float]] | None:
    """Positions of a simple directed path (a → b → c), or None when the component is anything else."""
    if len(pairs) != count - 1:
        return None
    following = {}
    has_incoming = set()
    for source, target in pairs:
        if source in following or target in has_incoming:
            return None
        following[source] = target
        has_incoming.add(target)
    starts = [node for node in range(count) if node not in has_incoming]
    if len(starts) != 1:
        return None
    positions: list[tuple[float, float] | None] = [None] * count
    node, layer = starts[0], 0
    while True:
        positions[node] = (0.0, float(layer))
        if node not in following:
            break
        node, layer = following[node], layer + 1
    return positions if all(p is not None for p in positions) else None


def fold_healthy_components(graph: Graph, expanded: set[str], noun: str, keep_at_most: int = 30) -> int:
    """Hide components with nothing to look at (all ready, every edge declared, no finding) behind one counted node.

    Only when the picture has more than ``keep_at_most`` components; returns how many were folded.
    """
    components = graph.components()
    if len(components) <= keep_at_most or HEALTHY in expanded:
        return 0
    edge_styles: dict[str, set[str]] = defaultdict(set)
    for edge in graph.edges:
        edge_styles[edge.source].add(edge.style)
    healthy = [
        component
        for component in components
        if all(
            graph.nodes[n].state == READY
            and graph.nodes[n].severity in (None, "info")
            and edge_styles[n] <= {SOLID, DEPENDS}
            for n in component
        )
    ]
    if not healthy:
        return 0
    hidden = {node for component in healthy for node in component}
    graph.nodes = {key: node for key, node in graph.nodes.items() if key not in hidden}
    graph.edges = [edge for edge in graph.edges if edge.source not in hidden]
    graph._edge_index = {(edge.source, edge.target): edge for edge in graph.edges}
    graph.add_node(
        Node(
            id=f"{GROUP}:{HEALTHY}",
            kind="",
            label=f"{len(healthy)} healthy {noun}",
            state=READY,
            count=len(healthy),
            expand=HEALTHY,
            sublabel="all ready, consistent, no findings",
            hover=[
                f"{len(healthy)} {noun} where every object is ready, every relationship is declared on both sides",
                "and no check finds anything to fix",
                "Click to show them",
            ],
        )
    )
    return len(healthy)


def missing_node(kind: str, namespace: str, name: str, hover: list[str] | None = None) -> Node:
    address = f"{namespace}/{name}" if namespace else name
    return Node(
        id=f"missing:{kind}:{address}",
        kind=kind,
        label=name,
        state=MISSING,
        sublabel=f"missing · {namespace}",
        hover=[f"{kind} {address} does not exist", *(hover or [])],
        missing_address=(kind, namespace, name),
    )
