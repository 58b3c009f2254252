from django.apps import AppConfig


class ClustersConfig(AppConfig):
    name = "clusters"
    verbose_name = "Kubernetes clusters"

    def ready(self):
        from . import kinds  # noqa: F401  (declares this app's kinds in the registry)
