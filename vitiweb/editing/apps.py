from django.apps import AppConfig


class EditingConfig(AppConfig):
    name = "vitiweb.editing"
    label = "editing"
    verbose_name = "Editing and apply"
    default_auto_field = "django.db.models.BigAutoField"
