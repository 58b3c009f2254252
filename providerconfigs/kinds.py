"""The kinds this app owns, declared for the registry (see vitiweb.registry)."""

from clusters.kinds import AGE, NAME, PLACE
from vitiweb.registry import CLUSTER, PUBLISHED, KindDeclaration, register
from vitiweb.ui import Column

register(
    KindDeclaration(
        kind="KubevirtConfig",
        model="providerconfigs.KubevirtConfig",
        plural="kubevirtconfigs",
        scopes={PUBLISHED: CLUSTER},
        order=25,
        nav_label="KubeVirt configurations",
        nav_icon="⚙",
        nav_section="Provider configurations",
        columns=(
            NAME,
            PLACE,
            Column("secret", "Kubeconfig secret", ("secret_namespace", "secret_name"), attr="secret_name"),
            Column("secret_ns", "Secret namespace", (), attr="secret_namespace"),
            AGE,
        ),
        search_fields=("secret_name",),
        api_fields=("secret_name", "secret_namespace"),
    )
)
register(
    KindDeclaration(
        kind="ProxmoxConfig",
        model="providerconfigs.ProxmoxConfig",
        plural="proxmoxconfigs",
        scopes={PUBLISHED: CLUSTER},
        order=25,
        nav_label="Proxmox configurations",
        nav_icon="⚙",
        nav_section="Provider configurations",
        columns=(
            NAME,
            PLACE,
            Column("endpoint", "Endpoint", ("endpoint",), attr="endpoint"),
            Column("user", "User", ("username",), attr="username"),
            AGE,
        ),
        search_fields=("endpoint", "username"),
        api_fields=("endpoint", "port", "username"),
        # A Proxmox API token in plain text: dropped by the mirror, never stored, shown or returned.
        credential_paths=("spec.token",),
    )
)
