from django.apps import AppConfig


class MachinesConfig(AppConfig):
    name = "machines"
    verbose_name = "Machines"

    def ready(self):
        from . import kinds  # noqa: F401  (declares this app's kinds in the registry)
