"""Filters every kind shares: cluster, namespace, phase, readiness, search, label selector.

Each app's ``filters.py`` extends ``MirroredObjectFilterSet`` with its own
columns (region, role, provider type...). Filter values come from the URL,
so a filtered view is a link that can be bookmarked and shared.
"""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection
from django.db.models import Q, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.choices import BaseChoiceIterator

from vitiweb.models import Cluster

READY_CHOICES = (("true", "Ready"), ("false", "Not ready"), ("unknown", "Unknown"))
CURRENT_CHOICES = (("yes", "Current"), ("no", "Not current (last seen earlier)"))
#: The phase filter's value for objects that report no phase.
NO_PHASE = "(none)"
PROBLEM_PHASES = ("Failed", "Error", "Degraded", "Unhealthy")


def needs_attention() -> Q:
    """Objects not ready or in a failed phase: what the overview and cluster pages count as needing attention."""
    return Q(ready=False) | Q(phase__in=PROBLEM_PHASES)


# A label key: optional DNS prefix and a name (Kubernetes' syntax, loosely).
_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_REQUIREMENT = re.compile(
    rf"""^\s*(?:
        (?P<neg>!)\s*(?P<nkey>{_KEY})                                   # !key
      | (?P<skey>{_KEY})\s*(?P<setop>in|notin)\s*\((?P<values>[^)]*)\)  # key in (a,b)
      | (?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})         # key=value
      | (?P<ekey>{_KEY})                                                # key
    )\s*$""",
    re.VERBOSE,
)


def split_selector(text: str) -> list[str]:
    """Requirements of a selector: commas separate them, except inside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in (p.strip() for p in parts) if part]


#: A selector's size: each requirement is a join or a condition in SQL, and SQLite refuses an
#: expression tree past 1,000 nodes ("Expression tree is too large") with a 500.
MAX_SELECTOR_LENGTH = 4096
MAX_REQUIREMENTS = 50
MAX_SET_VALUES = 100


def parse_label_selector(text: str) -> list[tuple[str, str, list[str]]]:
    """``a=b,c!=d,e,!f,g in (h,i)`` -> [(op, key, values)] with op one of = != exists !exists in notin."""
    if len(text or "") > MAX_SELECTOR_LENGTH:
        raise ValidationError(f"a label selector is at most {MAX_SELECTOR_LENGTH} characters")
    requirements = []
    parts = split_selector(text or "")
    if len(parts) > MAX_REQUIREMENTS:
        raise ValidationError(f"a label selector has at most {MAX_REQUIREMENTS} requirements, this has {len(parts)}")
    for part in parts:
        match = _REQUIREMENT.match(part)
        if not match:
            # User text goes in params, never in the message: django-filter formats messages with %.
            raise ValidationError("not a label selector requirement: %(part)s", params={"part": repr(part)})
        if match["neg"]:
            requirements.append(("!exists", match["nkey"], []))
        elif match["setop"]:
            values = [v.strip() for v in match["values"].split(",") if v.strip()]
            if not values:
                raise ValidationError("%(part)s: give at least one value", params={"part": repr(part)})
            if len(values) > MAX_SET_VALUES:
                raise ValidationError(
                    "%(key)s %(op)s (...): at most %(most)s values",
                    params={"key": match["skey"], "op": match["setop"], "most": MAX_SET_VALUES},
                )
            requirements.append((match["setop"], match["skey"], values))
        elif match["op"]:
            requirements.append(("!=" if match["op"] == "!=" else "=", match["key"], [match["value"] or ""]))
        else:
            requirements.append(("exists", match["ekey"], []))
    return requirements


def label_selector_q(queryset, text: str):
    """Apply a Kubernetes label selector to a queryset of mirrored objects."""
    for index, (op, key, values) in enumerate(parse_label_selector(text)):
        alias = f"_label_{index}"
        if connection.vendor == "postgresql" and op in ("=", "in"):
            # Containment (@>) is what a GIN index on labels answers (machines migration 0003).
            condition = Q()
            for value in values:
                condition |= Q(labels__contains={key: value})
            queryset = queryset.filter(condition)
        elif op == "exists":
            queryset = queryset.filter(labels__has_key=key)
        elif op == "!exists":
            queryset = queryset.exclude(labels__has_key=key)
        else:
            # KeyTextTransform takes the key whole, so dots, slashes and "__" in keys are safe; the cast
            # makes the comparison a plain text one (a key transform's own lookups expect JSON values).
            queryset = queryset.alias(**{alias: Cast(KeyTextTransform(key, "labels"), TextField())})
            if op == "=":
                queryset = queryset.filter(**{alias: values[0]})
            elif op == "in":
                queryset = queryset.filter(**{f"{alias}__in": values})
            elif op == "!=":
                # As in Kubernetes, objects without the label match too.
                queryset = queryset.filter(~Q(**{alias: values[0]}) | Q(**{f"{alias}__isnull": True}))
            else:  # notin
                queryset = queryset.filter(~Q(**{f"{alias}__in": values}) | Q(**{f"{alias}__isnull": True}))
    return queryset


class LabelSelectorField(forms.CharField):
    def validate(self, value):
        super().validate(value)
        parse_label_selector(value)


class LabelSelectorFilter(django_filters.CharFilter):
    field_class = LabelSelectorField

    def filter(self, qs, value):
        return label_selector_q(qs, value) if value else qs


class MirroredObjectFilterSet(django_filters.FilterSet):
    """The filters of every kind; ``search_fields`` lists what ``q`` looks in besides the name."""

    search_fields: tuple[str, ...] = ()

    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, label, region"}),
    )
    cluster = django_filters.ModelChoiceFilter(
        queryset=Cluster.objects.only("name").order_by("name"), to_field_name="name", empty_label="All clusters"
    )
    namespace = django_filters.CharFilter(label="Namespace", widget=forms.TextInput(attrs={"placeholder": "any"}))
    phase = django_filters.ChoiceFilter(method="filter_phase", empty_label="Any phase")
    ready = django_filters.ChoiceFilter(
        choices=READY_CHOICES, method="filter_ready", label="Readiness", empty_label="Any readiness"
    )
    label = LabelSelectorFilter(
        label="Label selector",
        widget=forms.TextInput(attrs={"placeholder": "vitistack.io/environment=production", "spellcheck": "false"}),
    )

    current = django_filters.ChoiceFilter(
        choices=CURRENT_CHOICES, method="filter_current", label="Cluster data", empty_label="Current or not"
    )
    attention = django_filters.ChoiceFilter(
        choices=(("yes", "Needs attention"),), method="filter_attention", label="Attention", empty_label="Any"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["phase"].extra["choices"] = IndexedValues(self.queryset.model, "phase", also=(NO_PHASE,))

    def filter_phase(self, queryset, name, value):
        return queryset.filter(phase="" if value == NO_PHASE else value)

    def filter_current(self, queryset, name, value):
        from vitiweb.freshness import current_q

        condition = current_q("cluster__")
        return queryset.filter(condition) if value == "yes" else queryset.exclude(condition)

    def filter_attention(self, queryset, name, value):
        return queryset.filter(needs_attention())

    def filter_ready(self, queryset, name, value):
        return queryset.filter(ready={"true": True, "false": False, "unknown": None}[value])

    def search(self, queryset, name, value):
        condition = Q(name__icontains=value)
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        # Label keys and values, as text: "production" finds environment=production.
        return queryset.alias(_labels_text=Cast("labels", TextField())).filter(
            condition | Q(_labels_text__icontains=value)
        )


def distinct_values(model, field_name: str) -> list[str]:
    """The non-empty values of an indexed column, in order, at a cost that follows the number of values.

    A ``SELECT DISTINCT`` reads every row (500,000 machines for a handful of
    phases, on every list request). Instead a recursive query hops through the
    column's index from one value to the next (a "loose index scan": one index
    probe per value), on PostgreSQL and SQLite alike. Without an index each hop
    would be a full scan, so the column must lead one.
    """
    field = model._meta.get_field(field_name)
    if not leads_an_index(model, field_name):
        raise ImproperlyConfigured(f"{model.__name__}.{field_name} offers its values as choices: index it")
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(field.column)

    def first_after(value: str) -> str:
        return f"SELECT {column} FROM {table} WHERE {column} > {value} ORDER BY {column} LIMIT 1"

    first_non_empty = first_after("''")
    sql = (
        f"WITH RECURSIVE hop(value) AS ("
        f" SELECT ({first_non_empty})"
        f" UNION ALL SELECT ({first_after('hop.value')}) FROM hop WHERE hop.value IS NOT NULL"
        f") SELECT value FROM hop WHERE value IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def leads_an_index(model, field_name: str) -> bool:
    """True if ``field_name`` is the first column of an index of ``model``'s table."""
    options = model._meta
    field = options.get_field(field_name)
    if field.db_index or field.unique:
        return True
    leading = [index.fields[0] for index in options.indexes if index.fields]
    leading += [c.fields[0] for c in options.constraints if getattr(c, "fields", None)]
    leading += [fields[0] for fields in options.unique_together]
    return field_name in leading


class IndexedValues(BaseChoiceIterator):
    """A filter's choices: the values of an indexed column (``distinct_values``), then ``also``.

    Read the first time they are needed: when the form is drawn, or a value given for the filter is
    checked against them. A request that filters on other fields and draws no form (the search over
    every kind) reads none.
    """

    def __init__(self, model, field_name: str, also: tuple[str, ...] = ()):
        self.model, self.field_name, self.also = model, field_name, also
        self._values: list[tuple[str, str]] | None = None

    def values(self) -> list[tuple[str, str]]:
        if self._values is None:
            found = distinct_values(self.model, self.field_name)
            self._values = [(value, value) for value in [*found, *self.also]]
        return self._values

    def __iter__(self):
        return iter(self.values())

    def __len__(self) -> int:
        return len(self.values())


def fill_choices(filterset, names: tuple[str, ...], model=None) -> None:
    """Set the choices of ``names`` to the distinct values of those columns."""
    model = model or filterset.queryset.model
    for name in names:
        filterset.filters[name].extra["choices"] = IndexedValues(model, filterset.filters[name].field_name)


def generic_filterset(model, search_fields: tuple[str, ...] = (), choice_fields: tuple[str, ...] = ()):
    """The filter set of a kind that declares no class of its own: the common filters, plus one choice
    filter per declared column (its values are the column's distinct values)."""
    attrs = {
        name: django_filters.ChoiceFilter(
            field_name=name,
            label=model._meta.get_field(name).verbose_name.capitalize(),
            empty_label=f"Any {model._meta.get_field(name).verbose_name}",
        )
        for name in choice_fields
    }
    attrs["search_fields"] = tuple(search_fields)
    attrs["Meta"] = type(
        "Meta", (), {"model": model, "fields": ["q", "cluster", "namespace", *choice_fields, "phase", "ready", "label"]}
    )

    def __init__(self, *args, **kwargs):
        MirroredObjectFilterSet.__init__(self, *args, **kwargs)
        fill_choices(self, tuple(choice_fields))

    attrs["__init__"] = __init__
    return type(f"{model.__name__}FilterSet", (MirroredObjectFilterSet,), attrs)
