from vitiweb.overview import fleet_overview
from vitiweb.ui import render_page, viewer_required


@viewer_required
def home(request):
    """The fleet at a glance: clusters, counts, charts, and what needs attention."""
    context = fleet_overview(all_stacks=request.GET.get("stacks") == "all")
    return render_page(
        request,
        "vitiweb/overview.html",
        context,
        {
            "attention": "vitiweb/_attention.html",
            "fleet-freshness": "vitiweb/_freshness.html",
            "overview-derived": "vitiweb/_derived.html",
            "clusters": "vitiweb/_cluster_cards.html",
            "kind-summaries": "vitiweb/_kind_summaries.html",
            "overview-charts": "vitiweb/_overview_charts.html",
            "drift-summary": "gitops/_overview_drift_region.html",
        },
    )
