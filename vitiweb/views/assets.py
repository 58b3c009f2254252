"""plotly.js from the installed plotly package, served by us (no CDN), cached for a year.

The URL carries the package version, so an upgrade changes the URL and
browsers never run a stale copy. The plotly package is imported when a page
needs it, not with the URLconf: heavy imports are deferred so commands start fast.
"""

from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse, Http404
from django.urls import reverse
from django.views.decorators.http import require_safe

ONE_YEAR = 365 * 24 * 3600


def plotly_url() -> str:
    import plotly

    return reverse("plotly_js", args=[plotly.__version__])


@login_not_required
@require_safe
def plotly_js(request, version):
    import plotly

    script = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if version != plotly.__version__ or not script.is_file():
        raise Http404("unknown plotly.js version")
    response = FileResponse(script.open("rb"), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response
