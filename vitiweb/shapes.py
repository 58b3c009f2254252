"""Which API shape a cluster serves, and which shape a manifest is written in.

Two shapes of the VitiStack API exist (see vitiweb.registry): the integration
guide's (``guide``: every kind namespaced, four kinds) and the VitiStack
project's published one (``published``: Vitistack and the providers
cluster-scoped, fourteen kinds). A fleet may mix them; one cluster serves one.
A cluster's shape is read from its discovery (the scope it serves Vitistack
and the providers with, and whether it serves kinds only the published shape
has); a manifest's shape is the one whose CRD it validates against.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from vitiweb import registry
from vitiweb.kube import KindSpec
from vitiweb.registry import GUIDE, NAMESPACED, PUBLISHED


def crds_dir(shape: str) -> Path:
    base = Path(settings.VITIWEB_CRDS_DIR)
    return base / "published" if shape == PUBLISHED else base


def kind_specs() -> dict[str, KindSpec]:
    """What discovery should expect of each declared kind: any scope one of its shapes gives it.

    A kind of the published shape only (KubernetesCluster, ...) is optional: a guide-shaped cluster
    does not serve it, and that is no problem.
    """
    specs = {}
    for declaration in registry.declarations():
        scopes = tuple(sorted({scope == NAMESPACED for scope in declaration.scopes.values()}, reverse=True))
        specs[declaration.kind] = KindSpec(
            declaration.kind,
            declaration.plural,
            namespaced=scopes[0],
            scopes=scopes,
            expected=declaration.expected,
        )
    return specs


def shape_of_discovery(discovered: dict) -> str:
    """The shape a cluster serves, from its discovered kinds (``Cluster.discovered_kinds``).

    Published if it serves a kind in a scope only the published shape gives it (a cluster-scoped
    Vitistack), or a kind only the published shape has; the guide's otherwise (also when nothing
    is known yet).
    """
    for kind, info in (discovered or {}).items():
        if not isinstance(info, dict) or not info.get("installed"):
            continue
        try:
            declaration = registry.get(kind)
        except LookupError:
            continue
        guide_scope = declaration.scope(GUIDE)
        if guide_scope is None or (info.get("scope") and info.get("scope") != guide_scope):
            return PUBLISHED
    return GUIDE


def shape_of(cluster) -> str:
    return shape_of_discovery(getattr(cluster, "discovered_kinds", None) or {}) if cluster is not None else GUIDE


def scope_in(kind: str, shape: str) -> str | None:
    """The kind's scope in ``shape`` (None if the shape has no such kind)."""
    try:
        return registry.get(kind).scope(shape)
    except LookupError:
        return None


def shapes_of_kind(kind: str) -> tuple[str, ...]:
    try:
        return tuple(shape for shape in registry.SHAPES if registry.get(kind).scope(shape))
    except LookupError:
        return ()
