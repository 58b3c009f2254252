from django.apps import AppConfig


class VitiwebConfig(AppConfig):
    name = "vitiweb"
    verbose_name = "Vitiweb"
