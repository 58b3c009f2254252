from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "vitiweb.monitoring"
    label = "monitoring"
    verbose_name = "Events, logs, alerts and metrics"
    default_auto_field = "django.db.models.BigAutoField"
