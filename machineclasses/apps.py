from django.apps import AppConfig


class MachineclassesConfig(AppConfig):
    name = "machineclasses"
    verbose_name = "Machine classes"

    def ready(self):
        from . import kinds  # noqa: F401  (declares this app's kinds in the registry)
