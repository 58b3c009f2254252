"""Viewers see events and alerts; Operators also read the controllers' logs."""

from django.db import migrations

from vitiweb.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial"), ("vitiweb", "0003_roles")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
