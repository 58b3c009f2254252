from stacks.models import Vitistack
from stacks.views import VitistackDetailView, VitistackListView
from vitiweb.ui import object_urls

urlpatterns = object_urls(Vitistack, VitistackListView, VitistackDetailView)
