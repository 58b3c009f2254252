from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from vitiweb.kinds import all_models
from vitiweb.models import Cluster, Reference


@login_required
def home(request):
    """Each kind's objects across the fleet, with the clusters they come from."""
    sections = []
    for model in all_models():
        if request.user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}"):
            objects = model.objects.select_related("cluster").only(
                "name", "namespace", "phase", "ready", "cluster__name", "created_at"
            )
            sections.append({"kind": model.KIND, "plural": model._meta.verbose_name_plural, "objects": objects[:200],
                             "count": objects.count()})
    return render(
        request,
        "home.html",
        {
            "sections": sections,
            "clusters": Cluster.objects.all() if request.user.has_perm("vitiweb.view_cluster") else [],
            "dangling": Reference.objects.exclude(state=Reference.State.RESOLVED).count(),
        },
    )
