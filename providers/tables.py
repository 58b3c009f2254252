"""Columns of the provider lists."""

from vitiweb.ui import Column

MACHINEPROVIDER_COLUMNS = [
    Column("name", "Name", ("name",)),
    Column("cluster", "Cluster / namespace", ("cluster__name", "namespace", "name")),
    Column("type", "Type", ("provider_type",)),
    Column("region", "Region", ("region",)),
    Column("phase", "Phase", ("phase",)),
    Column("age", "Age", ("-created_at",), css="num"),
]
MACHINEPROVIDER_FIELDS = (
    "name",
    "namespace",
    "phase",
    "ready",
    "message",
    "created_at",
    "provider_type",
    "region",
    "cluster__name",
)

KUBERNETESPROVIDER_COLUMNS = [
    Column("name", "Name", ("name",)),
    Column("cluster", "Cluster / namespace", ("cluster__name", "namespace", "name")),
    Column("type", "Type", ("provider_type",)),
    Column("version", "Version", ("version",)),
    Column("region", "Region", ("region",)),
    Column("nodegroups", "Node groups"),
    Column("phase", "Phase", ("phase",)),
    Column("age", "Age", ("-created_at",), css="num"),
]
KUBERNETESPROVIDER_FIELDS = (
    "name",
    "namespace",
    "phase",
    "ready",
    "message",
    "created_at",
    "provider_type",
    "version",
    "region",
    "cluster__name",
)
