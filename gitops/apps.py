from django.apps import AppConfig


class GitopsConfig(AppConfig):
    name = "gitops"
    verbose_name = "Git sources"

    def ready(self):
        from gitops import signals  # noqa: F401 - connects the drift refresh to mirror changes
