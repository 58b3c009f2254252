"""Indexes for the operator pages (issue 5): fast paths at 50,000 machines.

machine_overview and machine_usage cover the fleet overview's GROUP BY queries
(index-only scans instead of reading every wide row); machine_created serves
the list's "age" sort without sorting the whole table. Mirror them in
Machine.Meta.indexes (same names) so that the model state matches.
"""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("machines", "0001_initial"),
        ("vitiweb", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="machine",
            index=models.Index(fields=["cluster", "phase", "ready"], name="machine_overview"),
        ),
        migrations.AddIndex(
            model_name="machine",
            index=models.Index(fields=["cluster", "provider_name", "provider_namespace", "namespace", "instance_type"],
                               name="machine_usage"),
        ),
        migrations.AddIndex(
            model_name="machine",
            index=models.Index(fields=["created_at"], name="machine_created"),
        ),
    ]
