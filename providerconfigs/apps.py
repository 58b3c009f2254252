from django.apps import AppConfig


class ProviderconfigsConfig(AppConfig):
    name = "providerconfigs"
    verbose_name = "Provider configurations"

    def ready(self):
        from . import kinds  # noqa: F401  (declares this app's kinds in the registry)
