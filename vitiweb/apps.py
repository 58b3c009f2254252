from django.apps import AppConfig


class VitiwebConfig(AppConfig):
    default = True  # "vitiweb" in INSTALLED_APPS means this one, not Daphne's below
    name = "vitiweb"
    verbose_name = "Vitiweb"

    def ready(self):
        from vitiweb import lockouts  # noqa: F401 - connects the lockout audit receiver


class DaphneRunserverConfig(AppConfig):
    """Daphne's app, for its ASGI ``runserver``, without what ``daphne.apps`` imports.

    ``daphne.apps`` imports ``daphne.server`` (Twisted, its asyncio reactor, TLS: a quarter
    of a second) into every process, every management command included. The server and its
    reactor are needed only where Daphne serves: its ``runserver`` command imports them, as
    does the ``daphne`` command line. Listed before ``django.contrib.staticfiles`` in
    INSTALLED_APPS, so that Daphne's ``runserver`` is the one Django finds (the ordering
    ``daphne.E001`` checks, which needs ``daphne.apps`` itself).
    """

    name = "daphne"
    verbose_name = "Daphne"
