"""The pages every kind shares: list, detail, YAML, history, and the fragment rule.

One URL serves a whole page and, to an htmx request, only the fragment that
request targets (``render_page``); every view goes through it, so the rule
lives here once. List and detail views are declared per kind with a model,
a filter set, columns and a section builder; everything else is common.

Query discipline: a list selects only the columns it shows and paginates in
the database; a detail page reads the object, its references (capped, with
counts) and its journal, so the number of queries does not grow with the
number of rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import content_disposition_header
from django.views import View

from vitiweb import registry
from vitiweb.freshness import FIELDS as _FRESHNESS_FIELDS
from vitiweb.kinds import KINDS, model_for
from vitiweb.models import JournalEntry, Reference
from vitiweb.roles import VIEWER_PERMISSIONS

#: Labels and annotations the seed guide recommends (its "Label and Annotation Strategy").
RECOMMENDED_LABELS = (
    ("vitistack.io/environment", "Environment"),
    ("vitistack.io/region", "Region"),
    ("vitistack.io/team", "Team"),
    ("vitistack.io/version", "Version"),
)
DESCRIPTION_ANNOTATION = "vitistack.io/description"
CONTACT_ANNOTATION = "vitistack.io/contact"
DOCUMENTATION_ANNOTATION = "vitistack.io/documentation"

#: How many referring objects a detail page lists before it links to a filtered list instead.
INCOMING_SHOWN = 20
OUTGOING_SHOWN = 200
HISTORY_SHOWN = 50
CLUSTER_FRESHNESS = tuple(f"cluster__{name}" for name in _FRESHNESS_FIELDS)


class RegionsResponse(HttpResponse):
    """Several fragments of one page, rendered from one context (for live updates)."""

    def __init__(self, regions: dict[str, str]):
        super().__init__()
        self.regions = regions


def render_page(request, template: str, context: dict, fragments: dict[str, str] | None = None, status: int = 200):
    """The whole page, or, to an htmx request, the fragment its ``HX-Target`` names.

    ``fragments`` maps an element id to the template rendering that element;
    a boosted navigation or a history restore gets the whole page. The live
    updater asks for several regions at once (``request.live_regions``) and
    gets them all from one evaluation of the view.
    """
    live_regions = getattr(request, "live_regions", None)
    if live_regions is not None:
        return RegionsResponse(
            {
                region: render_to_string(fragments[region], context, request)
                for region in live_regions
                if region in (fragments or {})
            }
        )
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.boosted and not htmx.history_restore_request and fragments:
        fragment = fragments.get(htmx.target or "")
        if fragment:
            return TemplateResponse(request, fragment, context, status=status)
    return TemplateResponse(request, template, context, status=status)


def require_permission(*perms: str):
    """Anonymous visitors go to the login page; a logged-in user without ``perms`` gets 403."""

    def decorate(view):
        return login_required(permission_required(perms, raise_exception=True)(view))

    return decorate


def viewer_required(view):
    """Pages that show the fleet as a whole (overview, search, export) need the whole Viewer role."""
    return require_permission(*VIEWER_PERMISSIONS)(view)


def model_permission(model, action: str = "view") -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def url_name(model, action: str) -> str:
    return f"{model._meta.model_name}_{action}"


@dataclass(frozen=True)
class Column:
    """One column of a list: its heading and, when sortable, the ordering it stands for."""

    key: str
    label: str
    order_by: tuple[str, ...] = ()
    css: str = ""
    #: For the generic row: the attribute of the object the cell shows (name, place, phase and age have their own).
    attr: str = ""

    @property
    def sortable(self) -> bool:
        return bool(self.order_by)


@dataclass
class SortState:
    key: str
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key


class KindMixin:
    model = None

    def get_permission_required(self):
        return (model_permission(self.model),)

    def kind_context(self) -> dict:
        meta = self.model._meta
        return {
            "kind": self.model.KIND,
            "model_name": meta.model_name,
            "verbose_name": meta.verbose_name,
            "verbose_name_plural": meta.verbose_name_plural,
            "list_url": reverse(url_name(self.model, "list")),
            # Kinds no app declares are shown, not edited or exported (they have no form nor schema here).
            "declared": registry.for_model(self.model) is not None,
        }


class BoundedCountPaginator(Paginator):
    """A paginator that counts the matching rows only as far as ``bound``.

    Counting every match reads every match: 500,000 rows for a label every
    machine carries, on each page of the list. Past ``bound`` the list says
    "more than" that many; the view sets the bound beyond the page asked for,
    so every page stays reachable and the count costs what the reader looks at.
    """

    def __init__(self, object_list, per_page, bound: int):
        super().__init__(object_list, per_page)
        self.bound = bound
        self.more = False

    @cached_property
    def count(self) -> int:
        counted = self.object_list[: self.bound + 1].count()
        self.more = counted > self.bound
        return min(counted, self.bound)


class ObjectListView(KindMixin, PermissionRequiredMixin, View):
    """A filtered, sorted, paginated list of one kind.

    Subclasses set ``model``, ``filterset_class``, ``columns`` (from the app's
    ``tables.py``), ``fields`` (exactly the columns the row template reads)
    and ``row_template``.
    """

    filterset_class = None
    columns: list[Column] = []
    fields: tuple[str, ...] = ("name", "namespace", "phase", "ready", "created_at", "cluster__name")
    row_template = ""
    template_name = ""
    table_template = "vitiweb/_object_table.html"
    default_sort = "name"
    paginate_by = 50
    page_sizes = (25, 50, 100, 200)
    #: Rows counted exactly; past them (and past the page asked for) the count says "more than".
    count_bound = 10_000

    def base_queryset(self):
        # The cluster's freshness columns too: rows of a cluster that is not current say how old they are.
        return self.model.objects.select_related("cluster").only(*self.fields, *CLUSTER_FRESHNESS)

    def sort_state(self, request) -> SortState:
        requested = request.GET.get("sort") or self.default_sort
        key = requested.lstrip("-")
        if key not in {column.key for column in self.columns if column.sortable}:
            key, requested = self.default_sort.lstrip("-"), self.default_sort
        return SortState(key=key, descending=requested.startswith("-"))

    def ordering(self, sort: SortState) -> list[str]:
        column = next(column for column in self.columns if column.key == sort.key)
        ordering = [f"-{item}" if sort.descending else item for item in column.order_by]
        # A unique tail keeps pages stable when the sort key has ties.
        return [*ordering, "pk"]

    def page_size(self, request) -> int:
        try:
            size = int(request.GET.get("per_page", self.paginate_by))
        except ValueError:
            return self.paginate_by
        return size if size in self.page_sizes else self.paginate_by

    def get(self, request):
        filterset = self.filterset_class(request.GET or None, queryset=self.base_queryset(), request=request)
        sort = self.sort_state(request)
        # Strict, as a bookmarked filter should be: a value that no longer validates matches nothing
        # (the form says why) rather than silently showing everything.
        queryset = filterset.qs if not filterset.is_bound or filterset.is_valid() else filterset.queryset.none()
        queryset = queryset.order_by(*self.ordering(sort))
        size = self.page_size(request)
        requested = request.GET.get("page") or 1
        asked = int(requested) if str(requested).isdigit() else 1
        paginator = BoundedCountPaginator(queryset, size, bound=max(self.count_bound, (asked + 1) * size))
        try:
            page = paginator.page(requested)
        except PageNotAnInteger:
            page = paginator.page(1)
        except EmptyPage:
            page = paginator.page(paginator.num_pages)
        context = {
            **self.kind_context(),
            "filter": filterset,
            "columns": self.columns,
            "sort": sort,
            "page": page,
            "objects": page.object_list,
            "row_template": self.row_template,
            "page_sizes": self.page_sizes,
            "per_page": paginator.per_page,
            "default_sort": self.default_sort,
            "default_per_page": self.paginate_by,
            "active_filters": active_filters(filterset),
        }
        return render_page(request, self.template_name, context, {"results": self.table_template})


#: What a kind that declares no columns shows.
DEFAULT_COLUMNS = (
    Column("name", "Name", ("name",)),
    Column("cluster", "Cluster / namespace", ("cluster__name", "namespace", "name")),
    Column("phase", "Phase", ("phase",)),
    Column("age", "Age", ("-created_at",), css="num"),
)


class GenericListView(ObjectListView):
    """A kind's list as its declaration describes it (columns, fields, row template, filters)."""

    declaration = None
    template_name = "vitiweb/object_list.html"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        declaration = self.declaration
        self.columns = list(declaration.columns or DEFAULT_COLUMNS)
        self.fields = tuple(
            dict.fromkeys(
                (
                    *ObjectListView.fields,
                    "message",
                    *declaration.fields,
                    *(column.attr for column in self.columns if column.attr),
                )
            )
        )
        self.row_template = declaration.row_template or "vitiweb/_generic_row.html"
        self.template_name = declaration.list_template


def active_filters(filterset) -> list[tuple[str, str]]:
    """(label, value) of every filter in use, for the chips above a table."""
    if not filterset.is_bound:
        return []
    found = []
    for name, bound in filterset.form.fields.items():
        value = filterset.data.get(name)
        if value not in (None, ""):
            found.append((bound.label or name, value))
    return found


class ObjectDetailView(KindMixin, PermissionRequiredMixin, View):
    """One object: summary, spec sections, status, related objects, YAML, history.

    ``tab`` selects what the main panel shows; each tab has its own URL and
    its own fragment (``#tab-panel``), so tabs work with and without htmx.
    """

    template_name = ""
    tab = "overview"
    sections = None  # callable(obj) -> list[Section]
    tab_templates = {
        "overview": "vitiweb/_detail_overview.html",
        "yaml": "vitiweb/_detail_yaml.html",
        "history": "vitiweb/_detail_history.html",
        "events": "monitoring/_object_events.html",
    }

    def get_object(self, pk):
        return get_object_or_404(self.model.objects.select_related("cluster"), pk=pk)

    def get(self, request, pk):
        obj = self.get_object(pk)
        context = {
            **self.kind_context(),
            "object": obj,
            "tab": self.tab,
            "tab_template": self.tab_templates[self.tab],
            "tabs": self.tab_links(obj),
            "recommended": recommended_metadata(obj),
        }
        context.update(getattr(self, f"{self.tab}_context")(obj))
        return render_page(
            request,
            self.template_name,
            context,
            {"tab-panel": self.tab_templates[self.tab], "object-head": "vitiweb/_detail_head.html"},
        )

    def tab_links(self, obj) -> list[dict]:
        return [
            {"key": key, "label": label, "url": reverse(url_name(self.model, action), args=[obj.pk])}
            for key, label, action in (
                ("overview", "Overview", "detail"),
                ("yaml", "YAML", "yaml"),
                ("history", "History", "history"),
                ("events", "Events", "events"),
            )
        ]

    def overview_context(self, obj) -> dict:
        outgoing, incoming, incoming_counts = related_objects(obj)
        status = obj.status if isinstance(obj.status, dict) else {}
        conditions = (
            [c for c in status.get("conditions") or [] if isinstance(c, dict)]
            if isinstance(status.get("conditions"), list)
            else []
        )
        other_status = {k: v for k, v in status.items() if k not in ("conditions", "phase", "message")}
        return {
            "sections": self.sections(obj) if self.sections else [],
            "outgoing": outgoing,
            "incoming": incoming,
            "incoming_counts": incoming_counts,
            "conditions": conditions,
            "other_status": other_status,
            "recent_changes": journal_for(obj)[:5],
        }

    def yaml_context(self, obj) -> dict:
        return {
            "manifest_yaml": manifest_yaml(obj),
            "download_url": reverse(url_name(self.model, "manifest"), args=[obj.pk]),
        }

    def history_context(self, obj) -> dict:
        return {"journal": journal_for(obj)[:HISTORY_SHOWN]}

    def events_context(self, obj) -> dict:
        from vitiweb.monitoring.views import object_events_context

        return object_events_context(obj)


class ManifestDownloadView(KindMixin, PermissionRequiredMixin, View):
    """The object's YAML as a file, exactly as the cluster holds it."""

    def get(self, request, pk):
        obj = get_object_or_404(self.model.objects.select_related("cluster"), pk=pk)
        response = HttpResponse(manifest_yaml(obj), content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, manifest_filename(obj))
        return response


def manifest_yaml(obj) -> str:
    import yaml  # every app's kinds import this module at startup; YAML is needed only here

    return yaml.safe_dump(obj.as_manifest(), sort_keys=False, allow_unicode=True, default_flow_style=False)


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def manifest_filename(obj) -> str:
    parts = [obj.cluster.name, obj.namespace, obj.kind.lower(), obj.name]
    stem = "_".join(_UNSAFE_FILENAME.sub("-", part).strip("-.") for part in parts if part)
    return f"{stem[:180] or 'object'}.yaml"


def object_urls(model, list_view, detail_view) -> list:
    """The URL patterns of one kind: list, detail, yaml, history, manifest download."""
    plural = model.PLURAL
    return [
        path(f"{plural}/", list_view.as_view(), name=url_name(model, "list")),
        path(f"{plural}/<int:pk>/", detail_view.as_view(tab="overview"), name=url_name(model, "detail")),
        path(f"{plural}/<int:pk>/yaml/", detail_view.as_view(tab="yaml"), name=url_name(model, "yaml")),
        path(f"{plural}/<int:pk>/history/", detail_view.as_view(tab="history"), name=url_name(model, "history")),
        path(f"{plural}/<int:pk>/events/", detail_view.as_view(tab="events"), name=url_name(model, "events")),
        path(
            f"{plural}/<int:pk>/manifest.yaml",
            ManifestDownloadView.as_view(model=model),
            name=url_name(model, "manifest"),
        ),
    ]


# -- what the detail pages read ---------------------------------------------------------------------


def journal_for(obj):
    return JournalEntry.objects.filter(
        kind=obj.kind, cluster_id=obj.cluster_id, namespace=obj.namespace, name=obj.name
    ).only("action", "changed_by", "changes", "resource_version", "recorded_at", "uid")


def recommended_metadata(obj) -> dict:
    labels = obj.labels if isinstance(obj.labels, dict) else {}
    annotations = obj.annotations if isinstance(obj.annotations, dict) else {}
    text = lambda value: value if isinstance(value, str) else ""  # noqa: E731
    return {
        "labels": [(label, text(labels.get(key))) for key, label in RECOMMENDED_LABELS if text(labels.get(key))],
        "description": text(annotations.get(DESCRIPTION_ANNOTATION)),
        "contact": text(annotations.get(CONTACT_ANNOTATION)),
        "documentation": text(annotations.get(DOCUMENTATION_ANNOTATION)),
    }


@dataclass
class RelatedRow:
    """One edge of the reference graph, seen from the object on the page."""

    reference: Reference
    other: object | None = None  # the object at the other end, when it resolves to one we hold
    attributes: list = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.reference.state


_OTHER_FIELDS = ("name", "namespace", "phase", "ready", "cluster__name")


def _load_ends(rows: list[RelatedRow], kind_of, id_of) -> None:
    """Attach the object at the other end of each row: one query per kind, whatever the row count."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        kind, pk = kind_of(row.reference), id_of(row.reference)
        if kind in KINDS and pk:
            wanted[kind].add(pk)
    found = {}
    for kind, ids in wanted.items():
        model = model_for(kind)
        for other in model.objects.select_related("cluster").only(*_OTHER_FIELDS).filter(pk__in=ids):
            found[(kind, other.pk)] = other
    for row in rows:
        row.other = found.get((kind_of(row.reference), id_of(row.reference)))


def related_objects(obj):
    """(outgoing rows, first incoming rows, incoming counts by kind and relation)."""
    outgoing = [
        RelatedRow(ref, attributes=sorted((ref.attributes or {}).items()))
        for ref in Reference.objects.filter(source_kind=obj.kind, source_id=obj.pk)
        .select_related("target_cluster")
        .order_by("relation", "path")[:OUTGOING_SHOWN]
    ]
    _load_ends(outgoing, lambda ref: ref.target_kind, lambda ref: ref.target_id)
    incoming_refs = Reference.objects.filter(target_kind=obj.kind, target_id=obj.pk)
    # One row per referring object, however many of its fields point here (a machine names its
    # provider, and an instance type and an image of it).
    grouped: dict[tuple[str, int], RelatedRow] = {}
    for ref in incoming_refs.order_by("source_kind", "source_id", "relation")[: INCOMING_SHOWN * 4]:
        key = (ref.source_kind, ref.source_id)
        if key not in grouped:
            if len(grouped) == INCOMING_SHOWN:
                break
            grouped[key] = RelatedRow(ref)
        grouped[key].attributes.append((ref.relation, ref.target_entry))
    incoming = list(grouped.values())
    _load_ends(incoming, lambda ref: ref.source_kind, lambda ref: ref.source_id)
    counts = list(
        incoming_refs.values("source_kind", "relation").annotate(n=Count("id")).order_by("source_kind", "relation")
    )
    return outgoing, incoming, counts
