"""The kinds this app owns, declared for the registry (see vitiweb.registry)."""

from clusters.kinds import AGE, NAME, PHASE, PLACE
from vitiweb.registry import NAMESPACED, PUBLISHED, KindDeclaration, register
from vitiweb.ui import Column

register(
    KindDeclaration(
        kind="NetworkNamespace",
        model="networks.NetworkNamespace",
        plural="networknamespaces",
        scopes={PUBLISHED: NAMESPACED},
        order=40,
        nav_label="Network namespaces",
        nav_icon="⌗",
        topology_symbol="triangle-down",
        nav_section="Networks and storage",
        columns=(
            NAME,
            PLACE,
            Column("datacenter", "Datacenter", ("datacenter",), attr="datacenter"),
            Column("supervisor", "Supervisor", ("supervisor",), attr="supervisor"),
            Column("allocation", "IP allocation", ("allocation",), attr="allocation"),
            PHASE,
            AGE,
        ),
        filter_fields=("datacenter", "supervisor", "allocation"),
        search_fields=("datacenter", "supervisor"),
        api_fields=("datacenter", "supervisor", "allocation"),
    )
)
register(
    KindDeclaration(
        kind="NetworkConfiguration",
        model="networks.NetworkConfiguration",
        plural="networkconfigurations",
        scopes={PUBLISHED: NAMESPACED},
        order=95,
        nav_label="Network configurations",
        nav_icon="⇄",
        nav_section="Networks and storage",
        columns=(
            NAME,
            PLACE,
            Column("network", "Network namespace", ("network_namespace",), attr="network_namespace"),
            Column("for", "Cluster", ("cluster_identifier",), attr="cluster_identifier"),
            Column("datacenter", "Datacenter", ("datacenter",), attr="datacenter"),
            PHASE,
            AGE,
        ),
        filter_fields=("datacenter", "provider"),
        search_fields=("network_namespace", "cluster_identifier"),
        api_fields=("network_namespace", "cluster_identifier", "datacenter", "provider"),
    )
)
