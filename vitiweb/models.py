"""Models shared by every app: clusters, the mirrored-object base, the
reference graph, the change journal and the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from vitiweb import crypto


class Cluster(models.Model):
    """One source of objects: a real cluster, the sandbox, or a manifest folder."""

    class Source(models.TextChoices):
        KUBECONFIG = "kubeconfig", "Kubeconfig"
        IN_CLUSTER = "in-cluster", "In-cluster service account"
        SANDBOX = "sandbox", "Sandbox"
        MANIFESTS = "manifests", "Manifest directory (read-only)"

    class State(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        CONNECTED = "connected", "Connected"
        DEGRADED = "degraded", "Degraded"
        UNREACHABLE = "unreachable", "Unreachable"

    name = models.SlugField(max_length=100, unique=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.KUBECONFIG)
    server = models.CharField(max_length=500, blank=True, help_text="API server URL (not secret).")
    context = models.CharField(max_length=200, blank=True)
    manifest_path = models.CharField(max_length=1000, blank=True)
    # The kubeconfig without credentials (server, names, flags): safe to show.
    kubeconfig_public = models.JSONField(default=dict, blank=True)
    # Whether the kubeconfig may run its exec credential plugin (aws eks get-token, ...) on
    # Vitiweb's hosts: only for clusters an administrator registered from a shell.
    allow_exec = models.BooleanField(default=False)
    # The kubeconfig's secret parts (tokens, keys, CA data), Fernet-encrypted.
    credentials_encrypted = models.BinaryField(blank=True, default=b"", editable=False)

    state = models.CharField(max_length=20, choices=State.choices, default=State.UNKNOWN, db_index=True)
    server_version = models.CharField(max_length=100, blank=True)
    discovered_kinds = models.JSONField(default=dict, blank=True)
    permissions = models.JSONField(default=dict, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Milliseconds from receiving the newest batch of events to committing it.
    lag_ms = models.FloatField(null=True, blank=True)
    # Per kind: the reflector's state ("watching", "backoff", ...), error and object count.
    kind_states = models.JSONField(default=dict, blank=True)
    # Set to ask the worker holding this cluster for a full relist (periodic resync).
    resync_requested_at = models.DateTimeField(null=True, blank=True)

    # Which sync worker owns this cluster, and until when (see vitiweb.sync.lease).
    lease_holder = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def read_only(self) -> bool:
        return self.source == self.Source.MANIFESTS

    def set_credentials(self, secret_text: str) -> None:
        self.credentials_encrypted = crypto.encrypt(secret_text) if secret_text else b""

    def get_credentials(self) -> str:
        return crypto.decrypt(bytes(self.credentials_encrypted)) if self.credentials_encrypted else ""


class SyncWorker(models.Model):
    """A running sync worker, known by its heartbeat; the fleet is shared among live ones."""

    name = models.CharField(max_length=200, unique=True)
    heartbeat_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class MirroredObject(models.Model):
    """The common fields of every object mirrored from a cluster.

    ``spec`` and ``status`` are kept whole; anything else the object carries
    (metadata fields such as finalizers or ownerReferences, top-level fields
    the dashboard does not know) is kept in ``metadata_extra`` / ``extra`` so
    that the object can be rendered back exactly as the cluster holds it.
    """

    #: Set by each concrete kind.
    KIND = ""
    PLURAL = ""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="%(class)ss")
    api_version = models.CharField(max_length=100, default="vitistack.io/v1alpha1")
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=253, blank=True, db_index=True)
    name = models.CharField(max_length=253, db_index=True)
    uid = models.CharField(max_length=64, db_index=True)
    resource_version = models.CharField(max_length=64, blank=True)
    generation = models.BigIntegerField(null=True, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    spec = models.JSONField(default=dict, blank=True)
    status = models.JSONField(default=dict, blank=True)
    metadata_extra = models.JSONField(default=dict, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    phase = models.CharField(max_length=50, blank=True, db_index=True)
    ready = models.BooleanField(null=True, db_index=True)
    message = models.TextField(blank=True)

    created_at = models.DateTimeField(null=True, blank=True, help_text="creationTimestamp in the cluster")
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["cluster__name", "namespace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "namespace", "name"], name="%(class)s_unique_in_cluster"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @classmethod
    def derived_fields(cls, spec: dict) -> dict:
        """Indexed columns computed from ``spec``; each kind adds its own."""
        return {}

    @classmethod
    def declared_references(cls, spec: dict, namespace: str) -> list:
        """The relationships this object's spec declares (see vitiweb.references)."""
        return []

    def references(self) -> list:
        """What this object points at: its spec's references; kinds that point by label or annotation add those."""
        return self.declared_references(self.spec if isinstance(self.spec, dict) else {}, self.namespace)

    @classmethod
    def declared_entries(cls, spec: dict, entry_kind: str) -> set[str]:
        """Names of the entries of ``entry_kind`` (e.g. instance types) this object offers."""
        return set()

    def get_absolute_url(self) -> str:
        return reverse(f"{self._meta.model_name}_detail", args=[self.pk])

    def as_manifest(self) -> dict:
        """The object as the cluster holds it (without managedFields)."""
        metadata = {"name": self.name}
        if self.namespace:
            metadata["namespace"] = self.namespace
        metadata.update(self.metadata_extra)
        if self.uid:
            metadata["uid"] = self.uid
        if self.resource_version:
            metadata["resourceVersion"] = self.resource_version
        if self.generation is not None:
            metadata["generation"] = self.generation
        if self.labels:
            metadata["labels"] = self.labels
        if self.annotations:
            metadata["annotations"] = self.annotations
        manifest = {"apiVersion": self.api_version, "kind": self.kind, "metadata": metadata}
        manifest.update(self.extra)
        if self.spec:
            manifest["spec"] = self.spec
        if self.status:
            manifest["status"] = self.status
        return manifest


class KnownSecret(models.Model):
    """A Secret's existence in a cluster (name only: secret data is never read)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="secrets")
    namespace = models.CharField(max_length=253)
    name = models.CharField(max_length=253)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "namespace", "name"], name="knownsecret_unique_in_cluster"),
        ]

    def __str__(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.name}"


class Reference(models.Model):
    """One relationship an object declares, with the attributes of that edge.

    Sources and targets are addressed by kind and primary key because they
    live in four tables; ``target_*`` names keep what the spec said so that a
    reference can be resolved later, when its target arrives.
    """

    class State(models.TextChoices):
        RESOLVED = "resolved", "Resolved"
        DANGLING = "dangling", "Dangling"
        AMBIGUOUS = "ambiguous", "Ambiguous"

    source_kind = models.CharField(max_length=50)
    source_id = models.BigIntegerField()
    source_cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="outgoing_references")
    relation = models.CharField(max_length=50, db_index=True)
    path = models.CharField(max_length=300, help_text="Where in the spec the reference is declared.")

    target_kind = models.CharField(max_length=50)
    target_namespace = models.CharField(max_length=253, blank=True)
    target_name = models.CharField(max_length=253)
    # For references to an entry inside the target (an instance type or image
    # a provider declares): the entry's name.
    target_entry = models.CharField(max_length=253, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    target_cluster = models.ForeignKey(
        Cluster, on_delete=models.SET_NULL, null=True, blank=True, related_name="incoming_references"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.DANGLING, db_index=True)
    detail = models.CharField(max_length=500, blank=True, help_text="Why the reference does not resolve.")
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["source_kind", "source_id"], name="reference_source"),
            models.Index(fields=["target_kind", "target_id"], name="reference_target"),
            models.Index(fields=["target_kind", "target_namespace", "target_name"], name="reference_target_name"),
        ]

    def __str__(self) -> str:
        entry = f"#{self.target_entry}" if self.target_entry else ""
        return (
            f"{self.source_kind}:{self.source_id} -{self.relation}-> "
            f"{self.target_kind} {self.target_namespace}/{self.target_name}{entry} ({self.state})"
        )


class JournalEntry(models.Model):
    """One observed change of a mirrored object."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="journal")
    kind = models.CharField(max_length=50)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=64, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    resource_version = models.CharField(max_length=64, blank=True)
    # The field manager that wrote last (from managedFields), or the importer.
    changed_by = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=list, blank=True, help_text="[{path, old, new}, ...]")
    recorded_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["kind", "cluster", "namespace", "name"], name="journal_object")]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.namespace}/{self.name} @{self.resource_version}"


class AuditEntry(models.Model):
    """One dry-run or apply made from the dashboard."""

    class Action(models.TextChoices):
        DRY_RUN = "dry-run", "Dry run"
        APPLY = "apply", "Apply"
        DELETE = "delete", "Delete"
        LOCKOUT = "lockout", "Login locked out"

    class Result(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    cluster = models.ForeignKey(Cluster, on_delete=models.SET_NULL, null=True, related_name="audit")
    action = models.CharField(max_length=20, choices=Action.choices)
    kind = models.CharField(max_length=50, blank=True)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253, blank=True)
    manifest = models.TextField(blank=True)
    diff = models.TextField(blank=True)
    result = models.CharField(max_length=20, choices=Result.choices)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        permissions = [
            ("dry_run", "Can dry-run manifests against a cluster"),
            ("apply", "Can apply manifests to a cluster"),
            ("force_apply", "Can force an apply over another field manager"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.namespace}/{self.name}: {self.result}"


class Lease(models.Model):
    """Work that one process at a time does for the whole deployment (held like a cluster's sync lease)."""

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=200, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.holder or 'free'})"


class FindingsRun(models.Model):
    """The integrity findings of the fleet as one process computed them, read by every web process.

    ``fingerprint`` says which state of the mirrored tables they were computed from;
    ``packed`` holds them serialised, most severe first (``vitiweb.integrity.pack_findings``).
    """

    fingerprint = models.CharField(max_length=64)
    computed_at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.FloatField(default=0.0)
    counts = models.JSONField(default=dict)
    # Compressed JSON, not jsonb: at 100 clusters a run of 430,000 findings exceeded the 255 MB one jsonb
    # value may hold, and the fleet's findings and overview stopped being derived.
    packed = models.BinaryField(default=bytes)

    @property
    def findings(self) -> list[dict]:
        from vitiweb.integrity import unpack_findings

        return unpack_findings(self.packed)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"findings at {self.computed_at:%Y-%m-%d %H:%M:%S} ({sum(self.counts.values())})"


class ServedSchema(models.Model):
    """A CRD as one cluster serves it, kept with its resourceVersion (see ``vitiweb.served``).

    ``checked_at`` is when the cluster last confirmed that resourceVersion (or
    failed to answer: ``error`` then says why, and ``schemas`` is the last one read).
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="served_schemas")
    crd_name = models.CharField(max_length=253)
    resource_version = models.CharField(max_length=64, blank=True)
    installed = models.BooleanField(default=True)
    scope = models.CharField(max_length=20, blank=True)
    #: served version name -> openAPIV3Schema
    schemas = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "crd_name"], name="servedschema_unique")]

    def __str__(self) -> str:
        return f"{self.crd_name} in {self.cluster_id} at {self.resource_version or '?'}"


class OverviewRun(models.Model):
    """The fleet overview's counts, lists and figures as the deriving process computed them, read by every
    web process (``vitiweb.overview``: ``store_overview``, ``stored_overview``).

    ``data`` holds the objects ``derive_overview`` returned, as JSON text (``vitiweb.stored``), and
    ``digest`` its SHA-1 (what a reader's decoded copy is keyed on); ``fingerprint`` says which state of the
    mirrored tables they were last derived from, ``computed_at`` when.
    """

    fingerprint = models.CharField(max_length=64)
    computed_at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.FloatField(default=0.0)
    digest = models.CharField(max_length=40)
    data = models.TextField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"overview at {self.computed_at:%Y-%m-%d %H:%M:%S}"


class DiscoveredObject(MirroredObject):
    """An object of a ``vitistack.io`` kind no app declares, found in a cluster's discovery.

    Shown generically (list, detail, YAML) rather than ignored; ``kind`` tells the kinds apart.
    """

    UNIQUE_FIELDS = ("cluster", "kind", "namespace", "name")
    PLURAL = "discovered"

    class Meta(MirroredObject.Meta):
        ordering = ["kind", "cluster__name", "namespace", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "kind", "namespace", "name"], name="discoveredobject_unique_in_cluster"
            ),
        ]
        indexes = [models.Index(fields=["kind", "cluster"], name="discoveredobject_kind")]
        verbose_name = "object of another vitistack.io kind"
        verbose_name_plural = "objects of other vitistack.io kinds"

    def get_absolute_url(self) -> str:
        # A declared kind kept in this table (a proxy) has pages of its own; any other kind the generic ones.
        try:
            return reverse(f"{self._meta.model_name}_detail", args=[self.pk])
        except NoReverseMatch:
            return reverse("discoveredobject_detail", args=[self.pk])
