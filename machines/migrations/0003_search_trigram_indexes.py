"""Indexes for searching machines: trigram (name and labels, case-insensitive substring) and
GIN on labels (label selectors: ``@>`` containment and ``?`` key existence).

PostgreSQL only (pg_trgm, a trusted extension): the expressions match what
``icontains`` compiles to, ``UPPER(col::text) LIKE UPPER(%s)``, so a search
among 50,000 machines reads a few index pages instead of every row. Other
databases keep scanning, which is fine at their scale.
"""
from django.db import migrations

INDEXES = {
    "machine_name_trgm": 'UPPER("name"::text)',
    "machine_labels_trgm": 'UPPER("labels"::text)',
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS {name} ON "machines_machine" USING gin (({expression}) gin_trgm_ops)')
    schema_editor.execute('CREATE INDEX IF NOT EXISTS machine_labels_gin ON "machines_machine" USING gin ("labels")')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*INDEXES, "machine_labels_gin"]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("machines", "0002_page_indexes"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
