"""The Celery application.

Without ``REDIS_URL`` tasks run eagerly in the calling process (the one-command
start); with it they go to a worker through Redis.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")

app = Celery("vitiweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
