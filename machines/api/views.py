"""REST endpoint of the Machine kind."""

from machines.filters import MachineFilterSet
from machines.models import Machine
from vitiweb.api import object_viewset

MachineViewSet = object_viewset(
    Machine, MachineFilterSet, ("provider_namespace", "provider_name", "instance_type", "machine_image")
)
