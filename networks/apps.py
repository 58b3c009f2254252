from django.apps import AppConfig


class NetworksConfig(AppConfig):
    name = "networks"
    verbose_name = "Networks"

    def ready(self):
        from . import kinds  # noqa: F401  (declares this app's kinds in the registry)
