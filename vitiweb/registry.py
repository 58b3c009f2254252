"""The registry of kinds: every mirrored kind declared once, by the app that owns it.

A declaration (``KindDeclaration``) says what a kind is (group, version,
plural, scope in each API shape, model) and how the dashboard shows it
(list columns, filters, detail sections, API fields, navigation, editor
form, credential fields). Everything else is derived from the registry:
URLs (list, detail, YAML, history, manifest, new, edit, export), the REST
API, search, navigation, live regions, topology node types, the kinds the
sync engine watches, and the kinds discovery expects. Nothing else lists the kinds.

Apps declare their kinds in their ``kinds.py``, imported by their
``AppConfig.ready()``; URL configuration is read after every app is ready,
so the URLs see every declaration.

Shapes: the integration guide's CRDs (``guide``) and the VitiStack
project's published CRDs (``published``). A kind may exist in one shape or
both, with a scope in each; which shape a cluster serves is read from its
discovery (see ``vitiweb.shapes``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib import import_module

from django.apps import apps

GROUP = "vitistack.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

GUIDE, PUBLISHED = "guide", "published"
SHAPES = (GUIDE, PUBLISHED)
NAMESPACED, CLUSTER = "Namespaced", "Cluster"


def _resolve(value):
    """A class or callable given directly or as a dotted path (``"app.module.Name"``), imported late."""
    if isinstance(value, str):
        module, _, name = value.rpartition(".")
        return getattr(import_module(module), name)
    return value


@dataclass(frozen=True)
class KindDeclaration:
    """One kind, as its app declares it.

    ``model`` is ``"app_label.Model"``; ``scopes`` maps each shape the kind
    exists in to its scope there. ``order`` places the kind in dependency
    order (what is referred to before what refers to it). ``filterset``,
    ``list_view``, ``detail_view``, ``sections`` and ``form`` may be dotted
    paths; a kind that gives none gets the generic list and detail pages (a view given is a base the
    declaration completes with the model, filters and columns).
    ``credential_paths`` are spec fields holding a secret in plain text: the
    mirror drops them before anything else sees the object, and the editor
    treats them as write-only.
    """

    kind: str
    model: str
    plural: str
    scopes: dict[str, str]
    order: int = 100
    group: str = GROUP
    version: str = VERSION
    nav_label: str = ""
    nav_icon: str = "▪"
    nav_section: str = "Inventory"
    filterset: object = None
    list_view: object = None
    detail_view: object = None
    columns: tuple = ()
    fields: tuple[str, ...] = ()
    row_template: str = ""
    list_template: str = "vitiweb/object_list.html"
    detail_template: str = "vitiweb/object_detail.html"
    sections: object = None
    api_fields: tuple[str, ...] = ()
    search_fields: tuple[str, ...] = ()
    #: Indexed columns offered as choice filters on the list (and in the API) when no filter set is given.
    filter_fields: tuple[str, ...] = ()
    form: object = None
    credential_paths: tuple[str, ...] = ()
    #: Where the fleet export puts the kind's files (default: its plural).
    export_folder: str = ""
    #: A column holding another name references may use for an object (a KubernetesCluster's cluster id).
    alias_field: str = ""
    #: Whether a cluster of a shape the kind belongs to is expected to serve it (absence is a problem).
    expected: bool = False
    #: How the topology draws the kind's objects (a Plotly marker symbol). A kind with one is a node type
    #: of the topology: seeing the topology needs its view permission.
    topology_symbol: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    def get_model(self):
        return apps.get_model(self.model)

    @property
    def model_name(self) -> str:
        return self.get_model()._meta.model_name

    def url_name(self, action: str) -> str:
        return f"{self.model_name}_{action}"

    def scope(self, shape: str) -> str | None:
        return self.scopes.get(shape)

    def namespaced_in(self, shape: str) -> bool | None:
        scope = self.scopes.get(shape)
        return None if scope is None else scope == NAMESPACED

    @property
    def accepted_scopes(self) -> frozenset[str]:
        return frozenset(self.scopes.values())

    # -- derived parts (built once, when first asked) --------------------------------------------

    @cached_property
    def filterset_class(self):
        if self.filterset:
            return _resolve(self.filterset)
        from vitiweb.filters import generic_filterset

        return generic_filterset(self.get_model(), self.search_fields, self.filter_fields)

    @cached_property
    def list_view_class(self):
        from vitiweb.ui import GenericListView

        return type(
            f"{self.kind}ListView",
            (_resolve(self.list_view) if self.list_view else GenericListView,),
            {"model": self.get_model(), "declaration": self, "filterset_class": self.filterset_class},
        )

    @cached_property
    def detail_view_class(self):
        from vitiweb.ui import ObjectDetailView

        sections = _resolve(self.sections) if self.sections else None
        return type(
            f"{self.kind}DetailView",
            (_resolve(self.detail_view) if self.detail_view else ObjectDetailView,),
            {
                "model": self.get_model(),
                "template_name": self.detail_template,
                "sections": staticmethod(sections) if sections else None,
            },
        )

    @cached_property
    def sections_builder(self) -> Callable | None:
        return _resolve(self.sections) if self.sections else None

    @cached_property
    def form_class(self):
        return _resolve(self.form) if self.form else None


_registry: dict[str, KindDeclaration] = {}


def register(declaration: KindDeclaration) -> KindDeclaration:
    """Add a kind (idempotent for the same declaration; a second, different one for a kind is an error)."""
    existing = _registry.get(declaration.kind)
    if existing is not None and existing != declaration:
        raise ValueError(f"kind {declaration.kind!r} is already declared (by {existing.model})")
    for other in _registry.values():
        if other.kind != declaration.kind and other.plural == declaration.plural:
            raise ValueError(f"plural {declaration.plural!r} of {declaration.kind} is already {other.kind}'s")
    _registry[declaration.kind] = declaration
    return declaration


def unregister(kind: str) -> None:
    _registry.pop(kind, None)


def declarations() -> list[KindDeclaration]:
    """Every declared kind, in dependency order."""
    return sorted(_registry.values(), key=lambda d: (d.order, d.kind))


def get(kind: str) -> KindDeclaration:
    try:
        return _registry[kind]
    except KeyError:
        known = ", ".join(d.kind for d in declarations())
        raise LookupError(f"{kind!r} is not a VitiStack kind (expected one of {known})") from None


def by_plural(plural: str) -> KindDeclaration | None:
    for declaration in _registry.values():
        if declaration.plural == plural:
            return declaration
    return None


def for_model(model) -> KindDeclaration | None:
    label = f"{model._meta.app_label}.{model.__name__}"
    for declaration in _registry.values():
        if declaration.model.lower() == label.lower():
            return declaration
    return None


def topology_kinds() -> list[KindDeclaration]:
    """The kinds the topology draws as nodes (those declaring a ``topology_symbol``)."""
    return [declaration for declaration in declarations() if declaration.topology_symbol]


def view_permission(kind: str) -> str | None:
    """``app_label.view_model`` of a declared kind (None for a kind no app declares)."""
    declaration = _registry.get(kind)
    if declaration is None:
        return None
    meta = declaration.get_model()._meta
    return f"{meta.app_label}.view_{meta.model_name}"


def credential_paths(kind: str) -> tuple[str, ...]:
    declaration = _registry.get(kind)
    return declaration.credential_paths if declaration else ()
