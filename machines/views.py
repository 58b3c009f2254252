from machines import sections, tables
from machines.filters import MachineFilterSet
from machines.models import Machine
from vitiweb.ui import ObjectDetailView, ObjectListView


class MachineListView(ObjectListView):
    model = Machine
    filterset_class = MachineFilterSet
    columns = tables.COLUMNS
    fields = tables.FIELDS
    row_template = "machines/_machine_row.html"
    template_name = "machines/machine_list.html"


class MachineDetailView(ObjectDetailView):
    model = Machine
    template_name = "machines/machine_detail.html"
    sections = staticmethod(sections.machine_sections)
