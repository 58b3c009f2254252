"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os
from importlib import import_module

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")

# Django must be set up before anything imports models (the routing does).
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

# The URLconf, and every view module behind it (the Kubernetes client among them: seconds of
# imports on a busy host), is imported at start, not by the first page or websocket a fresh
# worker serves: that connect would wait seconds for its permission check (which resolves the
# page's URL).
import_module(settings.ROOT_URLCONF)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from vitiweb.limits import OriginValidator, RequestSizeLimit, refuse_large_bodies_in_daphne  # noqa: E402
from vitiweb.routing import websocket_urlpatterns  # noqa: E402

refuse_large_bodies_in_daphne()

application = ProtocolTypeRouter(
    {
        "http": RequestSizeLimit(django_asgi_app),
        "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
