"""The kinds this app owns, declared for the registry (see vitiweb.registry)."""

from machines import tables
from vitiweb.registry import GUIDE, NAMESPACED, PUBLISHED, KindDeclaration, register

register(
    KindDeclaration(
        kind="Machine",
        model="machines.Machine",
        plural="machines",
        scopes={GUIDE: NAMESPACED, PUBLISHED: NAMESPACED},
        order=90,
        expected=True,
        nav_icon="▣",
        topology_symbol="circle",
        filterset="machines.filters.MachineFilterSet",
        columns=tables.COLUMNS,
        fields=tables.FIELDS,
        row_template="machines/_machine_row.html",
        sections="machines.sections.machine_sections",
        api_fields=("provider_namespace", "provider_name", "instance_type", "machine_image"),
        form="machines.forms.MachineForm",
    )
)
