from stacks import sections, tables
from stacks.filters import VitistackFilterSet
from stacks.models import Vitistack
from vitiweb.ui import ObjectDetailView, ObjectListView


class VitistackListView(ObjectListView):
    model = Vitistack
    filterset_class = VitistackFilterSet
    columns = tables.COLUMNS
    fields = tables.FIELDS
    row_template = "stacks/_vitistack_row.html"
    template_name = "stacks/vitistack_list.html"


class VitistackDetailView(ObjectDetailView):
    model = Vitistack
    template_name = "stacks/vitistack_detail.html"
    sections = staticmethod(sections.vitistack_sections)
