"""The kinds this app owns, declared for the registry (see vitiweb.registry)."""

from clusters.kinds import AGE, NAME, PLACE
from vitiweb.registry import CLUSTER, PUBLISHED, KindDeclaration, register
from vitiweb.ui import Column

register(
    KindDeclaration(
        kind="MachineClass",
        model="machineclasses.MachineClass",
        plural="machineclasses",
        scopes={PUBLISHED: CLUSTER},
        order=15,
        nav_label="Machine classes",
        nav_icon="▧",
        topology_symbol="pentagon",
        columns=(
            NAME,
            PLACE,
            Column("category", "Category", ("category",), attr="category"),
            Column("cpu", "CPU cores", ("cpu_cores",), css="num", attr="cpu_cores"),
            Column("memory", "Memory", ("memory",), attr="memory"),
            Column("types", "Provider types", ("provider_types",), attr="provider_types"),
            AGE,
        ),
        filter_fields=("category",),
        search_fields=("display_name", "provider_types", "category"),
        api_fields=("display_name", "category", "cpu_cores", "memory", "enabled", "provider_types"),
        sections="machineclasses.sections.machineclass_sections",
    )
)
