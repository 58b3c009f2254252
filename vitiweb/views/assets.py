"""plotly.js from the installed plotly package, served by us (no CDN), cached for a year.

The URL carries the package version, so an upgrade changes the URL and
browsers never run a stale copy.
"""

from pathlib import Path

import plotly
from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse, Http404
from django.urls import reverse
from django.views.decorators.http import require_safe

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
ONE_YEAR = 365 * 24 * 3600


def plotly_url() -> str:
    return reverse("plotly_js", args=[plotly.__version__])


@login_not_required
@require_safe
def plotly_js(request, version):
    if version != plotly.__version__ or not PLOTLY_JS.is_file():
        raise Http404("unknown plotly.js version")
    response = FileResponse(PLOTLY_JS.open("rb"), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response
