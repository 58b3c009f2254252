"""Vitiweb: a dashboard for fleets of VitiStack management clusters.

The Celery app (``vitiweb.celery``) is imported by the modules that define tasks, not here:
importing it here would cost every process, management commands included, Celery's import.
"""

__version__ = "0.1.0"
