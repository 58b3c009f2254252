"""The three roles of the dashboard, as Django groups with permissions."""

VIEWER, OPERATOR, ADMIN = "Viewer", "Operator", "Admin"

_MIRRORED = [
    ("stacks", "vitistack"),
    ("providers", "machineprovider"),
    ("providers", "kubernetesprovider"),
    ("providers", "nodegroup"),
    ("machines", "machine"),
    # The published API's other kinds and the generic mirror of undeclared ones.
    ("machineclasses", "machineclass"),
    ("clusters", "kubernetescluster"),
    ("clusters", "etcdbackup"),
    ("clusters", "controlplanevirtualsharedip"),
    ("networks", "networknamespace"),
    ("networks", "networkconfiguration"),
    ("storage", "clusterstorage"),
    ("storage", "clusterstorageclass"),
    ("providerconfigs", "kubevirtconfig"),
    ("providerconfigs", "proxmoxconfig"),
    ("vitiweb", "discoveredobject"),
]
_DASHBOARD = [
    ("vitiweb", "cluster"),
    ("vitiweb", "reference"),
    ("vitiweb", "journalentry"),
    ("vitiweb", "knownsecret"),
    ("vitiweb", "auditentry"),
    ("gitops", "gitsource"),
    ("gitops", "driftrecord"),
    ("gitops", "promotion"),
    ("monitoring", "event"),
    ("monitoring", "alertinstance"),
]

#: group -> [(app_label, codename)]
ROLE_PERMISSIONS = {
    VIEWER: [(app, f"view_{model}") for app, model in _MIRRORED + _DASHBOARD],
}
#: What the Viewer role may do, as ``has_perms`` wants it: the least any page asks for.
VIEWER_PERMISSIONS = tuple(f"{app}.{codename}" for app, codename in ROLE_PERMISSIONS[VIEWER])
ROLE_PERMISSIONS[OPERATOR] = ROLE_PERMISSIONS[VIEWER] + [
    ("vitiweb", "dry_run"),
    ("vitiweb", "apply"),
    ("monitoring", "view_controller_logs"),
]
ROLE_PERMISSIONS[ADMIN] = ROLE_PERMISSIONS[OPERATOR] + [
    ("vitiweb", "force_apply"),
    ("vitiweb", "add_cluster"),
    ("vitiweb", "change_cluster"),
    ("vitiweb", "delete_cluster"),
    ("gitops", "add_gitsource"),
    ("gitops", "change_gitsource"),
    ("gitops", "delete_gitsource"),
    ("auth", "view_user"),
    ("auth", "add_user"),
    ("auth", "change_user"),
    ("auth", "delete_user"),
]


def sync_roles(apps, schema_editor=None) -> None:
    """Create the groups and give each exactly its permissions (idempotent)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        # An app migrated later than this call has no permissions yet: its own roles migration
        # calls this again once they exist (a test checks that every role ends up complete).
        permissions = [
            permission
            for app, codename in wanted
            for permission in Permission.objects.filter(content_type__app_label=app, codename=codename)
        ]
        group.permissions.set(permissions)
