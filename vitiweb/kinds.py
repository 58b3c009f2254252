"""The four VitiStack kinds and the models that mirror them."""

from __future__ import annotations

from django.apps import apps

GROUP = "vitistack.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: kind -> "app_label.Model", in dependency order (what must exist before what).
KIND_MODELS = {
    "Vitistack": "stacks.Vitistack",
    "MachineProvider": "providers.MachineProvider",
    "KubernetesProvider": "providers.KubernetesProvider",
    "Machine": "machines.Machine",
}
KINDS = tuple(KIND_MODELS)


def model_for(kind: str):
    try:
        return apps.get_model(KIND_MODELS[kind])
    except KeyError:
        raise LookupError(f"{kind!r} is not a VitiStack kind (expected one of {', '.join(KINDS)})") from None


def all_models():
    return [model_for(kind) for kind in KINDS]


def kind_for_plural(plural: str) -> str | None:
    for kind in KINDS:
        if model_for(kind).PLURAL == plural:
            return kind
    return None
