"""Websocket routes."""

from django.urls import path

from vitiweb.consumers import LiveConsumer
from vitiweb.monitoring.consumers import LogConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    path("ws/logs/", LogConsumer.as_asgi()),
]
