"""The manifest form every kind shares, and the dashboard's other write-path forms.

``ManifestForm`` is generated from the kind's CRD (``schemaform``): every
field of the schema is in the form by construction. The CRD is the one the
target cluster serves (``vitiweb.served``), or Vitiweb's own file for the
cluster's API shape when the cluster cannot be read (the page says so); a
kind the cluster serves cluster-scoped has no namespace field. A kind's form (in its
app's ``forms.py``) only says how to group the top-level fields as the seed
guide groups them, which fields get suggestions from the fleet, and the
naming convention. Metadata gets the guide's recommended ``vitistack.io/*``
labels and annotations as fields of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from django import forms
from django.core.exceptions import ValidationError

from vitiweb import policy, registry, served, shapes
from vitiweb.editing import checks
from vitiweb.editing.schemaform import (
    MISSING,
    Bound,
    Parsed,
    bind,
    build_node,
    flatten,
    k8s_path_to_form_name,
    parse_map,
    render_map,
    spec_node,
    unflatten,
)
from vitiweb.kinds import API_VERSION, KINDS, model_for
from vitiweb.models import Cluster

#: The seed guide's "Label and Annotation Strategy".
RECOMMENDED_LABELS = (
    ("environment", "vitistack.io/environment", "production"),
    ("region", "vitistack.io/region", "us-west-2"),
    ("team", "vitistack.io/team", "platform"),
    ("version", "vitistack.io/version", "v1.0.0"),
)
RECOMMENDED_ANNOTATIONS = (
    ("description", "vitistack.io/description", "Production Kubernetes cluster"),
    ("contact", "vitistack.io/contact", "platform-team@company.com"),
    ("documentation", "vitistack.io/documentation", "https://docs.company.com/k8s"),
)
#: Set by the API server; never sent back, never exported, left out of diffs.
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
KUBERNETES_VERSIONS = ("1.33", "1.32", "1.31", "1.30", "1.29", "1.28", "1.27", "1.26", "1.25", "1.24")

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


_generic_forms: dict[str, type] = {}


def form_class_for(kind: str) -> type[ManifestForm]:
    """The kind's own form (its declaration's ``form``), or the form generated from its CRD alone."""
    declaration = registry.get(kind)
    if declaration.form_class is not None:
        return declaration.form_class
    if kind not in _generic_forms:
        _generic_forms[kind] = type(f"{kind}Form", (ManifestForm,), {"kind": kind})
    return _generic_forms[kind]


def clean_manifest(obj: dict) -> dict:
    """``obj`` without status and server-set metadata: what one would apply or keep in Git."""
    out = {k: v for k, v in obj.items() if k != "status"}
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        out["metadata"] = {k: v for k, v in metadata.items() if k not in SERVER_METADATA}
    return out


@dataclass
class Section:
    title: str
    keys: tuple[str, ...]
    help: str = ""
    variant: bool = False  # one block per provider type; the chosen type's is shown
    bounds: list[Bound] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")

    @property
    def filled(self) -> bool:
        return any(b.filled for b in self.bounds)

    @property
    def error_count(self) -> int:
        def count(bound: Bound) -> int:
            return len(bound.errors) + sum(count(c) for c in bound.children) + sum(count(i) for i in bound.items)

        return sum(count(b) for b in self.bounds)


@dataclass
class Problem:
    path: str  # Kubernetes field path
    name: str  # form field name
    message: str


class ManifestForm:
    """One kind's manifest as a form: data in, manifest and field errors out."""

    kind = ""
    api_version = API_VERSION
    #: (title, top-level spec keys, help); keys not listed land in "Other fields".
    sections: tuple[tuple[str, tuple[str, ...], str], ...] = ()
    #: The spec key naming the provider type whose own block (``spec.<type>``) applies.
    variant_key = ""
    #: (regular expression on a form field name, method name returning suggestions)
    suggestions: tuple[tuple[str, str], ...] = ()
    naming_pattern = ""

    def __init__(
        self,
        data=None,
        *,
        base: dict | None = None,
        cluster: Cluster | None = None,
        schema_max_age: timedelta | None = None,
    ):
        self.base = base
        self.cluster = cluster
        #: How old a check of the cluster's CRD may be (0 before a dry run or an apply: ask the cluster now).
        self.schema_max_age = served.FRESH_FOR if schema_max_age is None else schema_max_age
        self.data = dict(data) if data is not None else self.initial_data(base or self.blank())
        self._built = None

    # -- shapes ------------------------------------------------------------------------------

    @property
    def shape(self) -> str:
        """The API shape of the target cluster (its discovery), or the one shape that has this kind."""
        shape = shapes.shape_of(self.cluster)
        if shapes.scope_in(self.kind, shape) is None:
            shape = next(iter(shapes.shapes_of_kind(self.kind)), shape)
        return shape

    @cached_property
    def schema_source(self) -> served.SchemaSource:
        """The CRD schema the form follows: the target cluster's, or Vitiweb's own for its shape."""
        return served.schema_for(self.cluster, self.kind, self.api_version, max_age=self.schema_max_age)

    @property
    def namespaced(self) -> bool:
        """A kind the target cluster serves cluster-scoped has no namespace field."""
        return self.schema_source.namespaced

    @cached_property
    def spec_node(self):
        source = self.schema_source
        if source.from_cluster:
            return build_node(source.spec_schema, "spec")
        return spec_node(self.api_version, self.kind, source.shape)

    def blank(self) -> dict:
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": {"name": ""}, "spec": {}}

    def initial_data(self, obj: dict) -> dict:
        data: dict[str, str] = {}
        metadata = obj.get("metadata") or {}
        data["metadata.name"] = str(metadata.get("name") or "")
        data["metadata.namespace"] = str(metadata.get("namespace") or "")
        labels = dict(metadata.get("labels") or {})
        annotations = dict(metadata.get("annotations") or {})
        for short, key, _ in RECOMMENDED_LABELS:
            data[f"metadata.label.{short}"] = str(labels.pop(key, "") or "")
        for short, key, _ in RECOMMENDED_ANNOTATIONS:
            data[f"metadata.annotation.{short}"] = str(annotations.pop(key, "") or "")
        data["metadata.labels"] = render_map(labels)
        data["metadata.annotations"] = render_map(annotations)
        flatten(self.spec_node, obj.get("spec", MISSING), "spec", data)
        return data

    @classmethod
    def from_post(cls, post, **kwargs) -> ManifestForm:
        data = {key: post.get(key) for key in post.keys() if not key.startswith("_") and key != "csrfmiddlewaretoken"}
        return cls(data, **kwargs)

    def build(self):
        """(manifest, Parsed) from the form data, merged into the base object."""
        if self._built is None:
            parsed = Parsed()
            base = self.base or {}
            obj = {}
            for key, value in base.items():
                obj[key] = value
            obj["apiVersion"] = self.api_version
            obj["kind"] = self.kind
            obj["metadata"] = self._metadata(base.get("metadata") or {}, parsed)
            spec = unflatten(self.spec_node, self.data, "spec", base.get("spec", MISSING), parsed)
            if spec is not MISSING:
                obj["spec"] = spec
            else:
                obj.pop("spec", None)
            ordered = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
            ordered.update({k: v for k, v in obj.items() if k not in ordered})
            self._built = (ordered, parsed)
        return self._built

    def _metadata(self, base_meta: dict, parsed: Parsed) -> dict:
        meta = dict(base_meta)
        name = (self.data.get("metadata.name") or "").strip()
        namespace = (self.data.get("metadata.namespace") or "").strip() if self.namespaced else ""
        meta["name"] = name
        if namespace:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        for field_name, recommended, base_key in (
            ("labels", RECOMMENDED_LABELS, "labels"),
            ("annotations", RECOMMENDED_ANNOTATIONS, "annotations"),
        ):
            singular = field_name[:-1]
            try:
                wanted = parse_map(self.data.get(f"metadata.{field_name}") or "")
            except ValueError as exc:
                parsed.errors[f"metadata.{field_name}"] = str(exc)
                wanted = {k: v for k, v in (base_meta.get(base_key) or {}).items()}
            for short, key, _ in recommended:
                value = (self.data.get(f"metadata.{singular}.{short}") or "").strip()
                if value:
                    wanted[key] = value
                else:
                    wanted.pop(key, None)
            old = base_meta.get(base_key)
            merged = {}
            if isinstance(old, dict):
                merged.update({k: (old[k] if str(old[k]) == str(wanted[k]) else wanted[k]) for k in old if k in wanted})
            merged.update({k: v for k, v in wanted.items() if k not in merged})
            if merged or old == {}:
                meta[base_key] = merged
            else:
                meta.pop(base_key, None)
        ordered = {k: meta[k] for k in ("name", "namespace") if k in meta}
        ordered.update({k: v for k, v in meta.items() if k not in ordered})
        return ordered

    @property
    def manifest(self) -> dict:
        """What would be applied: the built object without status and server-set metadata."""
        return clean_manifest(self.build()[0])

    # -- validation --------------------------------------------------------------------------

    def problems(self) -> list[Problem]:
        obj, parsed = self.build()
        manifest = clean_manifest(obj)
        found: list[Problem] = [Problem(name, name, message) for name, message in parsed.errors.items()]
        name = manifest["metadata"].get("name", "")
        if not name:
            found.append(Problem("metadata.name", "metadata.name", "required value"))
        elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            found.append(
                Problem(
                    "metadata.name",
                    "metadata.name",
                    "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
                )
            )
        namespace = manifest["metadata"].get("namespace", "")
        if namespace and (len(namespace) > 63 or not _DNS_LABEL.match(namespace)):
            found.append(
                Problem(
                    "metadata.namespace",
                    "metadata.namespace",
                    "lower-case letters, digits and '-', at most 63 characters",
                )
            )
        errors = [
            checks.friendly(e) for e in self.schema_source.validate(manifest) if not e.path.startswith("metadata")
        ]
        errors += checks.semantic_errors(manifest)
        seen = {(p.name, p.message) for p in found}
        for error in errors:
            problem = Problem(error.path, k8s_path_to_form_name(error.path, parsed.positions), error.message)
            if (problem.name, problem.message) not in seen and problem.name not in parsed.errors:
                seen.add((problem.name, problem.message))
                found.append(problem)
        return found

    def field_errors(self, problems: list[Problem] | None = None) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for problem in self.problems() if problems is None else problems:
            errors.setdefault(problem.name, []).append(problem.message)
        return errors

    def form_name_for(self, k8s_path: str) -> str:
        return k8s_path_to_form_name(k8s_path, self.build()[1].positions)

    # -- rendering ---------------------------------------------------------------------------

    def bound_sections(self, errors: dict[str, list[str]] | None = None) -> list[Section]:
        errors = errors or {}
        wanted = self.suggestion_names()
        node = self.spec_node
        listed = {key for _, keys, _ in self.sections for key in keys}
        types = set(node.child(self.variant_key).enum) if self.variant_key and node.child(self.variant_key) else set()
        result = []
        for title, keys, help_text in self.sections:
            section = Section(title, keys, help_text)
            section.bounds = [
                bind(child, self.data, f"spec.{child.key}", errors, wanted, child.key in node.required)
                for key in keys
                if (child := node.child(key))
            ]
            result.append(section)
        variants = [c for c in node.children if c.key in types and c.key not in listed]
        if variants:
            section = Section(
                "Provider settings",
                tuple(c.key for c in variants),
                "Settings for the chosen provider type.",
                variant=True,
            )
            section.bounds = [bind(c, self.data, f"spec.{c.key}", errors, wanted) for c in variants]
            result.insert(1, section)
        rest = [c for c in node.children if c.key not in listed and c.key not in types]
        if rest:
            section = Section("Other fields", tuple(c.key for c in rest))
            section.bounds = [bind(c, self.data, f"spec.{c.key}", errors, wanted, c.key in node.required) for c in rest]
            result.append(section)
        return result

    @property
    def chosen_variant(self) -> str:
        return (self.data.get(f"spec.{self.variant_key}") or "") if self.variant_key else ""

    def metadata_fields(self, errors: dict[str, list[str]] | None = None) -> dict:
        errors = errors or {}

        def one(name, label, placeholder="", help_text=""):
            return {
                "name": name,
                "label": label,
                "value": self.data.get(name) or "",
                "placeholder": placeholder,
                "errors": errors.get(name, []),
                "help": help_text,
                "id": "f-" + name,
            }

        return {
            "name": one("metadata.name", "Name", self.naming_pattern, "Lower-case letters, digits and '-'."),
            "namespace": one("metadata.namespace", "Namespace", "production") if self.namespaced else None,
            "labels": [one(f"metadata.label.{s}", key, example) for s, key, example in RECOMMENDED_LABELS],
            "annotations": [
                one(f"metadata.annotation.{s}", key, example) for s, key, example in RECOMMENDED_ANNOTATIONS
            ],
            "other_labels": one("metadata.labels", "Other labels", "app=vitistack", "One key=value per line."),
            "other_annotations": one("metadata.annotations", "Other annotations", "", "One key=value per line."),
        }

    # -- suggestions -------------------------------------------------------------------------

    def suggestion_names(self) -> set[str]:
        """Form names (or generic names with ``*`` for indices) that have a datalist."""
        names = set()
        for key in self.data:
            if any(re.fullmatch(pattern, key) for pattern, _ in self.suggestions):
                names.add(key)
        for key in ("metadata.namespace",):
            names.add(key)
        return names

    def datalists(self) -> dict[str, list[str]]:
        """Datalist id -> suggested values, for the fields that have suggestions."""
        lists: dict[str, list[str]] = {"dl-metadata.namespace": namespaces()}
        cache: dict[str, list[str]] = {}
        for key in sorted(self.data):
            for pattern, method in self.suggestions:
                match = re.fullmatch(pattern, key)
                if match:
                    cache_key = f"{method}:{match.groups()}"
                    if cache_key not in cache:
                        cache[cache_key] = list(getattr(self, method)(key, match))
                    lists["dl-" + key] = cache[cache_key]
                    break
        return lists

    # Sources every kind may use.

    def suggest_vitistacks(self, name, match):
        return object_names("Vitistack", self.cluster)

    def suggest_machine_providers(self, name, match):
        return object_names("MachineProvider", self.cluster)

    def suggest_kubernetes_providers(self, name, match):
        return object_names("KubernetesProvider", self.cluster)

    def suggest_namespaces(self, name, match):
        return namespaces()

    def suggest_regions(self, name, match):
        return regions()

    def suggest_kubernetes_versions(self, name, match):
        return list(KUBERNETES_VERSIONS)

    def offers_of_provider(self, provider_field: str, what: str) -> list[str]:
        """Names a machine provider offers (instance types, images, subnets, security groups)."""
        provider = (self.data.get(provider_field) or "").strip()
        if not provider:
            return []
        namespace_field = provider_field.rsplit(".", 1)[0] + ".namespace"
        namespace = (self.data.get(namespace_field) or self.data.get("metadata.namespace") or "").strip()
        return provider_offers(provider, namespace, self.cluster, what)

    # -- naming -----------------------------------------------------------------------------

    def naming_suggestion(self) -> str:
        return ""

    def label(self, short: str) -> str:
        return (self.data.get(f"metadata.label.{short}") or "").strip()


def _slug(*parts: str) -> str:
    text = "-".join(p for p in parts if p)
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


naming_slug = _slug


# -- what the fleet offers ------------------------------------------------------------------------

SUGGESTION_LIMIT = 300


def object_names(kind: str, cluster: Cluster | None = None) -> list[str]:
    model = model_for(kind)
    queryset = model.objects.all()
    if cluster is not None:
        # The target cluster's first, then the rest of the fleet (references resolve fleet-wide).
        local = list(
            queryset.filter(cluster=cluster)
            .order_by("name")
            .values_list("name", flat=True)
            .distinct()[:SUGGESTION_LIMIT]
        )
        others = queryset.exclude(cluster=cluster).exclude(name__in=local).order_by("name")
        return local + list(others.values_list("name", flat=True).distinct()[: SUGGESTION_LIMIT - len(local)])
    return list(queryset.order_by("name").values_list("name", flat=True).distinct()[:SUGGESTION_LIMIT])


def namespaces() -> list[str]:
    found = set()
    for kind in KINDS:
        found.update(
            model_for(kind)
            .objects.exclude(namespace="")
            .values_list("namespace", flat=True)
            .distinct()[:SUGGESTION_LIMIT]
        )
    return sorted(found)


def regions() -> list[str]:
    found = set()
    for kind in ("Vitistack", "MachineProvider", "KubernetesProvider"):
        model = model_for(kind)
        if any(f.name == "region" for f in model._meta.get_fields()):
            found.update(
                r
                for r in model.objects.exclude(region="").values_list("region", flat=True).distinct()[:SUGGESTION_LIMIT]
                if r
            )
    return sorted(found)


OFFER_KEYS = {
    "instanceTypes": lambda block: [i.get("name") for i in block.get("instanceTypes") or [] if isinstance(i, dict)],
    "machineImages": lambda block: [i.get("name") for i in block.get("machineImages") or [] if isinstance(i, dict)],
    "subnets": lambda block: list((block.get("networking") or {}).get("subnets") or []),
    "securityGroups": lambda block: [
        g.get("name") for g in (block.get("networking") or {}).get("securityGroups") or [] if isinstance(g, dict)
    ],
}


def provider_offers(name: str, namespace: str, cluster: Cluster | None, what: str) -> list[str]:
    model = model_for("MachineProvider")
    candidates = model.objects.filter(name=name).only("spec", "namespace", "cluster_id")
    if namespace:
        candidates = candidates.filter(namespace=namespace)
    providers = list(candidates[:20])
    providers.sort(key=lambda p: cluster is None or p.cluster_id != cluster.pk)
    for provider in providers:
        spec = provider.spec if isinstance(provider.spec, dict) else {}
        block = spec.get(spec.get("type") or "")
        blocks = [block] if isinstance(block, dict) else [v for v in spec.values() if isinstance(v, dict)]
        values = []
        for candidate in blocks:
            try:
                values += [str(v) for v in OFFER_KEYS[what](candidate) if v]
            except (AttributeError, TypeError):
                continue
        if values:
            return list(dict.fromkeys(values))
    return []


# -- the other forms --------------------------------------------------------------------------------


def writable_clusters():
    return Cluster.objects.exclude(source=Cluster.Source.MANIFESTS).order_by("name")


class ClusterChoiceField(forms.ModelChoiceField):
    def __init__(self, **kwargs):
        super().__init__(queryset=writable_clusters(), empty_label=None, **kwargs)

    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.get_state_display().lower()})"


class BulkApplyForm(forms.Form):
    MAX_BYTES = 2 * 1024 * 1024

    cluster = ClusterChoiceField(label="Target cluster")
    manifests = forms.CharField(
        required=False,
        label="Manifests (YAML, several documents separated by ---)",
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "mono", "autocomplete": "off"}),
    )
    upload = forms.FileField(
        required=False,
        label="…or upload YAML files",
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,text/yaml", "multiple": False}),
    )
    create_namespaces = forms.BooleanField(required=False, initial=True, label="Create missing namespaces")

    def clean(self):
        cleaned = super().clean()
        text = cleaned.get("manifests") or ""
        upload = cleaned.get("upload")
        source = "pasted text"
        if upload:
            if upload.size > self.MAX_BYTES:
                raise ValidationError("The file is larger than 2 MiB.")
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError("The file is not UTF-8 text.") from None
            source = upload.name
        if not text.strip():
            raise ValidationError("Paste manifests or upload a file.")
        cleaned["text"] = text.replace("\r\n", "\n")
        cleaned["source"] = source
        return cleaned


class SecretForm(forms.Form):
    """A credentials Secret a provider references. Values are write-only."""

    cluster = ClusterChoiceField(label="Cluster")
    namespace = forms.CharField(max_length=63)
    name = forms.CharField(max_length=253)
    keys = forms.CharField(
        label="Keys",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}),
        help_text="The key names, one per line (e.g. access-key-id, secret-access-key). Values go below.",
        required=False,
    )

    VALUE_SLOTS = 4

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for index in range(self.VALUE_SLOTS):
            self.fields[f"key_{index}"] = forms.CharField(required=False, max_length=253, label=f"Key {index + 1}")
            self.fields[f"value_{index}"] = forms.CharField(
                required=False,
                label=f"Value {index + 1}",
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            )
        del self.fields["keys"]

    def clean_namespace(self):
        value = self.cleaned_data["namespace"].strip()
        if not _DNS_LABEL.match(value):
            raise ValidationError("Lower-case letters, digits and '-'.")
        problem = policy.secret_namespace_problem(value)
        if problem:
            raise ValidationError(problem)
        return value

    def clean_name(self):
        value = self.cleaned_data["name"].strip()
        if not _DNS_SUBDOMAIN.match(value):
            raise ValidationError("Lower-case letters, digits, '-' and '.'.")
        return value

    def clean(self):
        cleaned = super().clean()
        pairs = {}
        for index in range(self.VALUE_SLOTS):
            key = (cleaned.get(f"key_{index}") or "").strip()
            value = cleaned.get(f"value_{index}") or ""
            if key and not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
                self.add_error(f"key_{index}", "Letters, digits, '-', '_' and '.'.")
            elif key and not value:
                self.add_error(f"value_{index}", "Enter a value for this key.")
            elif value and not key:
                self.add_error(f"key_{index}", "Name the key of this value.")
            elif key:
                if key in pairs:
                    self.add_error(f"key_{index}", "This key appears twice.")
                pairs[key] = value
        if not pairs and not self.errors:
            raise ValidationError("Give at least one key and its value.")
        cleaned["string_data"] = pairs
        return cleaned

    def rows(self):
        return [(self[f"key_{i}"], self[f"value_{i}"]) for i in range(self.VALUE_SLOTS)]
