"""REST endpoint of the Vitistack kind."""

from stacks.filters import VitistackFilterSet
from stacks.models import Vitistack
from vitiweb.api import object_viewset

VitistackViewSet = object_viewset(
    Vitistack, VitistackFilterSet, ("region", "role", "description", "max_machines", "max_clusters", "max_providers")
)
