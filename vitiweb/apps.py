from django.apps import AppConfig


class VitiwebConfig(AppConfig):
    name = "vitiweb"
    verbose_name = "Vitiweb"

    def ready(self):
        from vitiweb import lockouts  # noqa: F401 - connects the lockout audit receiver
