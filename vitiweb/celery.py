"""The Celery application.

Without ``REDIS_URL`` tasks run eagerly in the calling process (the one-command
start); with it they go to a worker through Redis.
"""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")

app = Celery("vitiweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs):
    """Workers and beat log as every other process does (settings.LOGGING: one line per event, LOG_FORMAT)."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
