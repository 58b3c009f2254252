from django.urls import reverse
from django.utils.http import urlencode

from vitiweb import registry
from vitiweb.ui import model_permission, render_page, url_name, viewer_required

SHOWN = 8


@viewer_required
def search(request):
    """Every kind the user may read, searched by name, label and region (the list filters' ``q``)."""
    query = (request.GET.get("q") or "").strip()[:200]
    results = []
    if query:
        for declaration in registry.declarations():
            model = declaration.get_model()
            if not request.user.has_perm(model_permission(model)):
                continue
            filterset_class = declaration.filterset_class
            filterset = filterset_class(
                {"q": query},
                queryset=model.objects.select_related("cluster").only(
                    "name", "namespace", "phase", "ready", "cluster__name"
                ),
                request=request,
            )
            queryset = filterset.qs.order_by("name", "pk")
            results.append(
                {
                    "kind": model.KIND,
                    "label": model._meta.verbose_name_plural.capitalize(),
                    "objects": list(queryset[:SHOWN]),
                    "count": queryset.count(),
                    "list_url": f"{reverse(url_name(model, 'list'))}?{urlencode({'q': query})}",
                }
            )
    return render_page(
        request,
        "vitiweb/search.html",
        {"query": query, "results": results, "total": sum(r["count"] for r in results)},
        {"search-results": "vitiweb/_search_results.html"},
    )
