"""The kinds this app owns, declared for the registry (see vitiweb.registry)."""

from vitiweb.registry import NAMESPACED, PUBLISHED, KindDeclaration, register
from vitiweb.ui import Column

NAME, PLACE, PHASE, AGE = (
    Column("name", "Name", ("name",)),
    Column("cluster", "Cluster / namespace", ("cluster__name", "namespace", "name")),
    Column("phase", "Phase", ("phase",)),
    Column("age", "Age", ("-created_at",), css="num"),
)

register(
    KindDeclaration(
        kind="KubernetesCluster",
        model="clusters.KubernetesCluster",
        plural="kubernetesclusters",
        scopes={PUBLISHED: NAMESPACED},
        order=80,
        nav_label="Kubernetes clusters",
        nav_icon="⎈",
        topology_symbol="star",
        nav_section="Clusters",
        alias_field="cluster_identifier",
        columns=(
            NAME,
            PLACE,
            Column("provider", "Provider", ("provider",), attr="provider"),
            Column("region", "Region", ("region", "zone"), attr="region"),
            Column("version", "Version", ("version",), attr="version"),
            Column("cp", "Control plane", ("control_plane_replicas",), css="num", attr="control_plane_replicas"),
            Column("workers", "Workers", ("worker_replicas",), css="num", attr="worker_replicas"),
            PHASE,
            AGE,
        ),
        filter_fields=("provider", "region", "environment", "version"),
        search_fields=("cluster_identifier", "region", "environment"),
        api_fields=(
            "cluster_identifier",
            "provider",
            "region",
            "zone",
            "environment",
            "network_namespace",
            "version",
            "control_plane_replicas",
            "worker_replicas",
        ),
        sections="clusters.sections.kubernetescluster_sections",
    )
)
register(
    KindDeclaration(
        kind="EtcdBackup",
        model="clusters.EtcdBackup",
        plural="etcdbackups",
        scopes={PUBLISHED: NAMESPACED},
        order=95,
        nav_label="etcd backups",
        nav_icon="⛁",
        nav_section="Clusters",
        columns=(
            NAME,
            PLACE,
            Column("for", "Cluster", ("cluster_name",), attr="cluster_name"),
            Column("storage", "Storage", ("storage_type",), attr="storage_type"),
            Column("schedule", "Schedule", (), attr="schedule"),
            PHASE,
            AGE,
        ),
        filter_fields=("storage_type",),
        search_fields=("cluster_name",),
        api_fields=("cluster_name", "storage_type", "schedule"),
    )
)
register(
    KindDeclaration(
        kind="ControlPlaneVirtualSharedIP",
        model="clusters.ControlPlaneVirtualSharedIP",
        plural="controlplanevirtualsharedips",
        scopes={PUBLISHED: NAMESPACED},
        order=95,
        nav_label="Control-plane IPs",
        nav_icon="⌖",
        nav_section="Clusters",
        columns=(
            NAME,
            PLACE,
            Column("for", "Cluster", ("cluster_identifier",), attr="cluster_identifier"),
            Column("datacenter", "Datacenter", ("datacenter",), attr="datacenter"),
            Column("method", "Method", ("method",), attr="method"),
            PHASE,
            AGE,
        ),
        filter_fields=("datacenter", "provider"),
        search_fields=("cluster_identifier", "datacenter"),
        api_fields=("cluster_identifier", "datacenter", "network_namespace", "provider", "method"),
    )
)
