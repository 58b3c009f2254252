"""The mirrored kinds, as the registry declares them (see vitiweb.registry).

A thin reading of the registry for code that needs only names and models;
nothing here lists a kind.
"""

from __future__ import annotations

from vitiweb import registry
from vitiweb.registry import API_VERSION, GROUP, VERSION

__all__ = ["API_VERSION", "GROUP", "VERSION", "KINDS", "model_for", "all_models", "kind_for_plural"]


class _Kinds:
    """The declared kind names in dependency order, read when used (apps declare theirs in ``ready()``)."""

    def _names(self) -> tuple[str, ...]:
        return tuple(d.kind for d in registry.declarations())

    def __iter__(self):
        return iter(self._names())

    def __contains__(self, kind) -> bool:
        return kind in self._names()

    def __len__(self) -> int:
        return len(self._names())

    def __getitem__(self, index):
        return self._names()[index]

    def __repr__(self) -> str:
        return repr(self._names())


KINDS = _Kinds()


def model_for(kind: str):
    return registry.get(kind).get_model()


_discovered: dict[str, type] = {}


def mirror_model_for(kind: str):
    """The model that mirrors ``kind``: its declared one, or, for a ``vitistack.io`` kind no app declares,
    a proxy of the generic table holding only that kind's rows (so a snapshot replaces only them)."""
    try:
        return model_for(kind)
    except LookupError:
        pass
    if kind not in _discovered:
        from django.db import models

        from vitiweb.models import DiscoveredObject

        class Manager(models.Manager):
            def get_queryset(self):
                return super().get_queryset().filter(kind=kind)

        from django.apps import apps

        name = f"Discovered{''.join(ch for ch in kind if ch.isalnum())}"
        _discovered[kind] = type(
            name,
            (DiscoveredObject,),
            {
                "__module__": "vitiweb.models",
                "KIND": kind,
                "objects": Manager(),
                "Meta": type("Meta", (), {"proxy": True, "app_label": "vitiweb"}),
            },
        )
        # Defining a model registers it; this one is a query helper, not a model of the app (no admin,
        # no permissions, nothing for migrations to see).
        apps.all_models["vitiweb"].pop(name.lower(), None)
        apps.clear_cache()
    return _discovered[kind]


def all_models():
    return [declaration.get_model() for declaration in registry.declarations()]


def kind_for_plural(plural: str) -> str | None:
    declaration = registry.by_plural(plural)
    return declaration.kind if declaration else None
