"""The Kubernetes access layer: clients, discovery, the reflector loop, apply.

It knows no Django model and imports nothing of Django: it speaks to clusters
through the official ``kubernetes`` client (raw JSON decoded with orjson) and
hands plain dicts to whoever drives it; the sync engine maps them onto models.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

GROUP = "vitistack.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class KindSpec:
    """What Vitiweb expects of a VitiStack kind before asking the cluster."""

    kind: str
    plural: str
    namespaced: bool = True
    #: Every scope the kind may have (namespaced or not) when it exists in several API shapes;
    #: empty: only ``namespaced``.
    scopes: tuple[bool, ...] = ()
    #: Whether a cluster lacking the kind has a problem (a kind of one shape only is optional).
    expected: bool = True

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def accepted_scopes(self) -> tuple[bool, ...]:
        return self.scopes or (self.namespaced,)


#: In dependency order (what is referenced before what refers to it).
KIND_SPECS: dict[str, KindSpec] = {
    "Vitistack": KindSpec("Vitistack", "vitistacks"),
    "MachineProvider": KindSpec("MachineProvider", "machineproviders"),
    "KubernetesProvider": KindSpec("KubernetesProvider", "kubernetesproviders"),
    "Machine": KindSpec("Machine", "machines"),
}
KINDS = tuple(KIND_SPECS)


def version() -> str:
    # Read at call time from the already-imported parent package so this layer
    # needs no import of it (and of what it pulls in).
    return getattr(sys.modules.get("vitiweb"), "__version__", None) or "0.0.0"


def user_agent() -> str:
    return f"vitiweb/{version()}"


__all__ = ["GROUP", "VERSION", "API_VERSION", "KindSpec", "KIND_SPECS", "KINDS", "version", "user_agent"]
