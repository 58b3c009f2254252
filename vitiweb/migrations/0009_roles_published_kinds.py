from django.db import migrations

from vitiweb.roles import sync_roles


class Migration(migrations.Migration):
    """The roles read the published API's kinds too (their apps' first migrations come after 0003)."""

    dependencies = [
        ("vitiweb", "0008_discovered_object"),
        ("machineclasses", "0001_initial"),
        ("clusters", "0001_initial"),
        ("networks", "0001_initial"),
        ("storage", "0001_initial"),
        ("providerconfigs", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
