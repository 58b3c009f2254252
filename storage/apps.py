from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "storage"
    verbose_name = "Storage"

    def ready(self):
        from . import kinds  # noqa: F401  (declares this app's kinds in the registry)
