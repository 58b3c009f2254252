from django.db.models import Count, Sum

from vitiweb.ui import GenericListView


class KubernetesProviderListView(GenericListView):
    """The generic list, with each provider's node groups counted in the same query as the page."""

    def base_queryset(self):
        return (
            super()
            .base_queryset()
            .annotate(nodegroup_count=Count("nodegroups"), desired_nodes=Sum("nodegroups__desired_size"))
        )
