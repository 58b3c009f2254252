from machines.models import Machine
from machines.views import MachineDetailView, MachineListView
from vitiweb.ui import object_urls

urlpatterns = object_urls(Machine, MachineListView, MachineDetailView)
