"""The dashboard's write path: form-driven manifests, dry-run, diff, apply, audit, export.

Writes go to a cluster through server-side apply and come back through the
watch; nothing here writes a mirrored object into the database.
"""
