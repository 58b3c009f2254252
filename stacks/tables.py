"""Columns of the Vitistack list."""

from vitiweb.ui import Column

COLUMNS = [
    Column("name", "Name", ("name",)),
    Column("cluster", "Cluster / namespace", ("cluster__name", "namespace", "name")),
    Column("region", "Region", ("region",)),
    Column("role", "Role", ("role",)),
    Column("quota", "Machine quota", ("max_machines",), css="num"),
    Column("phase", "Phase", ("phase",)),
    Column("age", "Age", ("-created_at",), css="num"),
]
FIELDS = (
    "name",
    "namespace",
    "phase",
    "ready",
    "message",
    "created_at",
    "region",
    "role",
    "description",
    "max_machines",
    "cluster__name",
)
