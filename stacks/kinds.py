"""The kinds this app owns, declared for the registry (see vitiweb.registry)."""

from stacks import tables
from vitiweb.registry import CLUSTER, GUIDE, NAMESPACED, PUBLISHED, KindDeclaration, register

register(
    KindDeclaration(
        kind="Vitistack",
        model="stacks.Vitistack",
        plural="vitistacks",
        scopes={GUIDE: NAMESPACED, PUBLISHED: CLUSTER},
        order=10,
        expected=True,
        nav_icon="◈",
        topology_symbol="square",
        filterset="stacks.filters.VitistackFilterSet",
        columns=tables.COLUMNS,
        fields=tables.FIELDS,
        row_template="stacks/_vitistack_row.html",
        sections="stacks.sections.vitistack_sections",
        api_fields=("region", "role", "description", "max_machines", "max_clusters", "max_providers"),
        form="stacks.forms.VitistackForm",
    )
)
