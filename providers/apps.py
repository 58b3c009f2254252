from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self):
        from . import kinds  # noqa: F401  (declares this app's kinds in the registry)
