"""Findings runs store their findings compressed (a jsonb value holds at most 255 MB)."""

from django.db import migrations, models


def forget_runs(apps, schema_editor):
    # A stored run is a cache of what the checks find: the deriving worker computes a new one at once.
    apps.get_model("vitiweb", "FindingsRun").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("vitiweb", "0011_overview_run")]

    operations = [
        migrations.RunPython(forget_runs, migrations.RunPython.noop),
        migrations.RemoveField(model_name="findingsrun", name="findings"),
        migrations.AddField(model_name="findingsrun", name="packed", field=models.BinaryField(default=bytes)),
    ]
