"""Inserting many rows at once.

On PostgreSQL new rows go through COPY, which skips the per-row SQL building
of ``bulk_create`` (the largest cost of a first sync: a cluster's 5,000
machines bring 15,000 references and 5,000 journal rows). Other databases
use ``bulk_create``.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from django.db import connection, models


def _reader(field) -> Callable:
    """How to read one column's value off an unsaved instance, as COPY's text format wants it."""
    if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
        return lambda instance: field.pre_save(instance, True)
    attname = field.attname
    if isinstance(field, models.JSONField):
        return lambda instance: orjson.dumps(getattr(instance, attname)).decode()
    return lambda instance: getattr(instance, attname)


def insert_all(model, instances: list, batch_size: int = 1000, *, set_pks: bool = False) -> None:
    """Insert ``instances``, which must all be new rows.

    With ``set_pks`` each instance gets its primary key: on PostgreSQL they are
    taken from the table's sequence first, in one query, and copied with the rows.
    """
    if not instances:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(instances, batch_size=batch_size)
        return
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    if set_pks:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(instances)],
            )
            for instance, (pk,) in zip(instances, cursor.fetchall(), strict=True):
                instance.pk = pk
        fields = [meta.pk, *fields]
    readers = [_reader(field) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    statement = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for instance in instances:
            copy.write_row([read(instance) for read in readers])


#: Up to this many rows an upsert is one INSERT ... ON CONFLICT statement; beyond, it goes through COPY.
COPY_THRESHOLD = 200


def upsert_all(
    model, instances: list, unique_fields: list[str], update_fields: list[str], batch_size: int = 500
) -> None:
    """Insert or update ``instances`` on ``unique_fields``, setting each instance's primary key.

    On PostgreSQL, many rows: COPY into a temporary table, then one INSERT ...
    ON CONFLICT DO UPDATE from it. A few rows (a watch event batch), and other
    databases: ``bulk_create(update_conflicts=True)``, one statement, where the
    temporary table cost five and catalog writes for its creation and drop: at
    a hundred clusters' events that was most of the database's work.
    """
    if not instances:
        return
    if connection.vendor != "postgresql" or len(instances) <= COPY_THRESHOLD:
        model.objects.bulk_create(
            instances,
            batch_size=batch_size,
            update_conflicts=True,
            unique_fields=unique_fields,
            update_fields=update_fields,
        )
        return
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    readers = [_reader(field) for field in fields]
    columns = ", ".join(quote(field.column) for field in fields)
    unique_columns = [meta.get_field(name).column for name in unique_fields]
    updates = ", ".join(
        f"{quote(meta.get_field(name).column)} = EXCLUDED.{quote(meta.get_field(name).column)}"
        for name in update_fields
    )
    staging = quote(f"staging_{meta.db_table}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        # Only the columns: no constraints or defaults, so COPY writes exactly what we give.
        cursor.execute(
            f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {columns} FROM {quote(meta.db_table)} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for instance in instances:
                copy.write_row([read(instance) for read in readers])
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT {columns} FROM {staging} "
            f"ON CONFLICT ({', '.join(quote(c) for c in unique_columns)}) DO UPDATE SET {updates} "
            f"RETURNING {quote(meta.pk.column)}, {', '.join(quote(c) for c in unique_columns)}"
        )
        ids = {tuple(row[1:]): row[0] for row in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {staging}")
    attnames = [meta.get_field(name).attname for name in unique_fields]
    for instance in instances:
        instance.pk = ids[tuple(getattr(instance, attname) for attname in attnames)]
