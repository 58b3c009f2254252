from django.db import migrations

from vitiweb.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("gitops", "0001_initial"),
        ("vitiweb", "0003_roles"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
