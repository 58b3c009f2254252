"""The kinds this app owns, declared for the registry (see vitiweb.registry)."""

from clusters.kinds import AGE, NAME, PHASE, PLACE
from vitiweb.registry import CLUSTER, NAMESPACED, PUBLISHED, KindDeclaration, register
from vitiweb.ui import Column

register(
    KindDeclaration(
        kind="ClusterStorageClass",
        model="storage.ClusterStorageClass",
        plural="clusterstorageclasses",
        scopes={PUBLISHED: CLUSTER},
        order=45,
        nav_label="Storage classes",
        nav_icon="▤",
        nav_section="Networks and storage",
        columns=(
            NAME,
            PLACE,
            Column("type", "Type", ("storage_type",), attr="storage_type"),
            Column("version", "Version", ("version",), attr="version"),
            Column("enabled", "Enabled", ("enabled",), attr="enabled"),
            AGE,
        ),
        filter_fields=("storage_type",),
        api_fields=("storage_type", "version", "enabled"),
    )
)
register(
    KindDeclaration(
        kind="ClusterStorage",
        model="storage.ClusterStorage",
        plural="clusterstorages",
        scopes={PUBLISHED: NAMESPACED},
        order=95,
        nav_label="Cluster storages",
        nav_icon="▥",
        nav_section="Networks and storage",
        columns=(
            NAME,
            PLACE,
            Column("for", "Cluster", ("cluster_identifier",), attr="cluster_identifier"),
            Column("class", "Storage class", ("storage_class",), attr="storage_class"),
            Column("type", "Type", ("storage_type",), attr="storage_type"),
            PHASE,
            AGE,
        ),
        filter_fields=("storage_class", "storage_type"),
        search_fields=("cluster_identifier", "storage_class"),
        api_fields=("cluster_identifier", "storage_class", "storage_type"),
    )
)
