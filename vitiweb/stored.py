"""What a derivation computed, as JSON text, and back as the same objects, without a query.

A fleet-wide derivation (``vitiweb.derive``) builds dataclasses holding model
instances, counters and sets, and pages render exactly those objects. They
are stored as JSON text (text, not ``jsonb``: the order of every mapping is
kept as derived), with a tag where JSON has no type of its own:

- a dataclass: its instance attributes, ``cached_property`` values included;
  those are evaluated before storing, so a page reads them instead of
  computing them (a cached property of a stored class must not depend on the
  moment it is read);
- a model instance: the columns it was loaded with (the others stay deferred,
  as ``only()`` left them) and the related objects loaded with it
  (``select_related``);
- a model class (its label), ``tuple``, ``set``, ``frozenset``, ``Counter``,
  a mapping whose keys are not all plain strings, ``datetime``, ``date``,
  ``Decimal``.

Anything else is refused when storing (``TypeError``), never turned into a
string silently. Decoding imports dataclasses only from this project's apps.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property

from django.apps import apps
from django.db.models import DEFERRED, Model

TAG = "~"


def dumps(value) -> str:
    return json.dumps(encode(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(text: str):
    return decode(json.loads(text))


def encode(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode(item) for item in value]
    if type(value) is tuple:
        return {"~tuple": [encode(item) for item in value]}
    if isinstance(value, Counter):
        return {"~counter": [[encode(k), encode(n)] for k, n in value.items()]}
    if isinstance(value, (set, frozenset)):
        tag = "~set" if isinstance(value, set) else "~frozenset"
        return {tag: [encode(item) for item in value]}
    if isinstance(value, dict):
        if all(isinstance(key, str) and not key.startswith(TAG) for key in value):
            return {key: encode(item) for key, item in value.items()}
        return {"~dict": [[encode(k), encode(item)] for k, item in value.items()]}
    if isinstance(value, datetime):
        return {"~datetime": value.isoformat()}
    if isinstance(value, date):
        return {"~date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"~decimal": str(value)}
    if isinstance(value, type) and issubclass(value, Model):
        return {"~model": value._meta.label}
    if isinstance(value, Model):
        return {"~instance": _encode_instance(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"~dataclass": _encode_dataclass(value)}
    raise TypeError(f"cannot store a {type(value).__module__}.{type(value).__qualname__}")


def _encode_instance(obj: Model) -> list:
    loaded = obj.__dict__
    columns = {f.attname: encode(loaded[f.attname]) for f in obj._meta.concrete_fields if f.attname in loaded}
    related = {name: encode(other) for name, other in obj._state.fields_cache.items()}
    return [obj._meta.label, columns, related]


def _encode_dataclass(obj) -> list:
    cls = type(obj)
    for klass in cls.__mro__:
        for name, attribute in vars(klass).items():
            if isinstance(attribute, cached_property):
                getattr(obj, name)
    return [f"{cls.__module__}:{cls.__qualname__}", {name: encode(item) for name, item in vars(obj).items()}]


def decode(value):
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key.startswith(TAG):
            return _DECODERS[key](inner)
    return {key: decode(item) for key, item in value.items()}


def _decode_instance(inner):
    label, columns, related = inner
    model = apps.get_model(label)
    values = [decode(columns[f.attname]) if f.attname in columns else DEFERRED for f in model._meta.concrete_fields]
    obj = model.from_db(None, [f.attname for f in model._meta.concrete_fields], values)
    for name, other in related.items():
        model._meta.get_field(name).set_cached_value(obj, decode(other))
    return obj


def _decode_dataclass(inner):
    path, attributes = inner
    cls = _dataclass(path)
    obj = cls.__new__(cls)
    obj.__dict__.update({name: decode(item) for name, item in attributes.items()})
    return obj


def _dataclass(path: str) -> type:
    module_name, _, qualname = path.partition(":")
    if module_name.split(".")[0] not in _project_packages():
        raise ValueError(f"{path}: not a class of this project")
    cls = importlib.import_module(module_name)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"{path}: not a dataclass")
    return cls


def _project_packages() -> set[str]:
    """The top-level packages of this project's apps (installed libraries are not)."""
    return {config.name.split(".")[0] for config in apps.get_app_configs() if "site-packages" not in config.path}


_DECODERS = {
    "~tuple": lambda inner: tuple(decode(item) for item in inner),
    "~counter": lambda inner: Counter({decode(k): decode(n) for k, n in inner}),
    "~set": lambda inner: {decode(item) for item in inner},
    "~frozenset": lambda inner: frozenset(decode(item) for item in inner),
    "~dict": lambda inner: {decode(k): decode(item) for k, item in inner},
    "~datetime": datetime.fromisoformat,
    "~date": date.fromisoformat,
    "~decimal": Decimal,
    "~model": apps.get_model,
    "~instance": _decode_instance,
    "~dataclass": _decode_dataclass,
}
