from django.apps import AppConfig


class StacksConfig(AppConfig):
    name = "stacks"
    verbose_name = "Vitistacks"

    def ready(self):
        from . import kinds  # noqa: F401  (declares this app's kinds in the registry)
