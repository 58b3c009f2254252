"""Columns of the machine list, as an operator reads a fleet of servers."""

from vitiweb.ui import Column

COLUMNS = [
    Column("name", "Name", ("name",)),
    Column("cluster", "Cluster / namespace", ("cluster__name", "namespace", "name")),
    Column("provider", "Provider", ("provider_name",)),
    Column("instance_type", "Instance type / class", ("instance_type", "machine_class")),
    Column("image", "Image", ("machine_image",)),
    Column("phase", "Phase", ("phase",)),
    Column("age", "Age", ("-created_at",), css="num"),
]

#: Exactly what the row template reads.
FIELDS = (
    "name",
    "namespace",
    "phase",
    "ready",
    "message",
    "created_at",
    "provider_name",
    "provider_namespace",
    "instance_type",
    "machine_image",
    "provider_type",
    "machine_class",
    "cluster__name",
)
