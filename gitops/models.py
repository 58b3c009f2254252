"""Git repositories as the desired state of clusters, and how the fleet compares to them.

A ``GitSource`` names a repository (or a local folder), a branch and a path
inside it; its ``GitTarget`` rows say which clusters (and namespaces) it
describes. The objects of the last good revision are kept as
``DesiredObject`` rows, replaced only when a new revision reads cleanly, so a
broken commit never takes the fleet's desired state away. ``DriftRecord``
rows are the comparison of those objects with the mirror, recomputed after a
fetch and after the sync writes a change.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from vitiweb import crypto


class GitSource(models.Model):
    class Auth(models.TextChoices):
        NONE = "none", "None (public or local)"
        TOKEN = "token", "HTTPS token"
        SSH_KEY = "ssh-key", "SSH private key"

    name = models.SlugField(max_length=100, unique=True)
    url = models.CharField(max_length=1000, blank=True, help_text="Repository URL (https://, ssh:// or git@host:path).")
    local_path = models.CharField(
        max_length=1000, blank=True, help_text="A local repository or folder instead of a URL."
    )
    branch = models.CharField(max_length=200, default="main")
    path = models.CharField(max_length=1000, blank=True, help_text="Folder inside the repository; empty for all of it.")
    auth = models.CharField(max_length=20, choices=Auth.choices, default=Auth.NONE)
    # A token or a private key, Fernet-encrypted like cluster credentials; never rendered back.
    credentials_encrypted = models.BinaryField(blank=True, default=b"", editable=False)
    push_enabled = models.BooleanField(
        default=False, help_text="Changes made in Vitiweb may be pushed to new branches of this repository."
    )

    commit = models.CharField(max_length=64, blank=True, help_text="The revision in use (the last good one).")
    commit_message = models.CharField(max_length=500, blank=True)
    commit_author = models.CharField(max_length=300, blank=True)
    commit_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    # The newest revision that could not be used, and why (bad YAML, schema errors).
    error_commit = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("gitsource_detail", args=[self.pk])

    @property
    def location(self) -> str:
        return self.url or self.local_path

    @property
    def short_commit(self) -> str:
        return self.commit[:12]

    def set_credentials(self, secret_text: str) -> None:
        self.credentials_encrypted = crypto.encrypt(secret_text) if secret_text else b""

    def get_credentials(self) -> str:
        return crypto.decrypt(bytes(self.credentials_encrypted)) if self.credentials_encrypted else ""


class GitTarget(models.Model):
    """One cluster (and optionally one namespace of it) whose desired state a source holds."""

    source = models.ForeignKey(GitSource, on_delete=models.CASCADE, related_name="targets")
    cluster = models.ForeignKey("vitiweb.Cluster", on_delete=models.CASCADE, related_name="git_targets")
    namespace = models.CharField(max_length=253, blank=True, help_text="Empty: every namespace of the cluster.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "cluster", "namespace"], name="gitops_unique_target"),
        ]

    def __str__(self) -> str:
        return f"{self.cluster}/{self.namespace}" if self.namespace else str(self.cluster)


class DesiredObject(models.Model):
    """One object of the source's last good revision."""

    source = models.ForeignKey(GitSource, on_delete=models.CASCADE, related_name="desired_objects")
    api_version = models.CharField(max_length=100)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    file = models.CharField(max_length=1000)
    index = models.PositiveIntegerField()
    body = models.JSONField()

    class Meta:
        ordering = ["file", "index"]
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "namespace", "name"], name="gitops_unique_desired"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


class DriftRecord(models.Model):
    class State(models.TextChoices):
        IN_SYNC = "in-sync", "In sync"
        GIT_ONLY = "git-only", "In Git only"
        CLUSTER_ONLY = "cluster-only", "In the cluster only"
        DIFFERS = "differs", "Differs"

    source = models.ForeignKey(GitSource, on_delete=models.CASCADE, related_name="drift")
    cluster = models.ForeignKey("vitiweb.Cluster", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=100, db_index=True)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    state = models.CharField(max_length=20, choices=State.choices, db_index=True)
    # [{"path": "spec.region", "git": ..., "cluster": ...}] for objects that differ.
    fields = models.JSONField(default=list, blank=True)
    desired = models.ForeignKey(DesiredObject, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The mirrored object's primary key (its table follows from ``kind``), when it exists.
    object_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster__name", "kind", "namespace", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "cluster", "kind", "namespace", "name"], name="gitops_unique_drift"
            ),
        ]
        indexes = [models.Index(fields=["kind", "object_id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}: {self.state}"

    @property
    def address(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def tone(self) -> str:
        return DRIFT_TONES[self.state]


class Promotion(models.Model):
    """What was promoted from where to where, at which revision of the source, by whom."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    source_cluster = models.ForeignKey("vitiweb.Cluster", on_delete=models.SET_NULL, null=True, related_name="+")
    source_namespace = models.CharField(max_length=253, blank=True)
    target_cluster = models.ForeignKey("vitiweb.Cluster", on_delete=models.SET_NULL, null=True, related_name="+")
    target_namespace = models.CharField(max_length=253, blank=True)
    from_environment = models.CharField(max_length=63)
    to_environment = models.CharField(max_length=63)
    git_source = models.ForeignKey(GitSource, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revision = models.CharField(max_length=64, blank=True)
    batch_size = models.PositiveIntegerField(default=0, help_text="Machines per batch; 0 for all at once.")
    # [{"kind", "from": "ns/name", "to": "ns/name", "batch": n, "state", "message"}]
    items = models.JSONField(default=list)
    state = models.CharField(max_length=20, choices=State.choices, default=State.RUNNING)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"promotion {self.pk}: {self.from_environment} -> {self.to_environment}"


#: The badge tone each drift state is shown in.
DRIFT_TONES = {
    DriftRecord.State.IN_SYNC: "tone-ok",
    DriftRecord.State.DIFFERS: "tone-warn",
    DriftRecord.State.GIT_ONLY: "tone-idle",
    DriftRecord.State.CLUSTER_ONLY: "tone-idle",
}
