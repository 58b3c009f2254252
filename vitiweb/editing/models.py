"""Progress of a multi-document apply, kept in the database so that any web
worker can show a run a Celery worker is executing."""

from django.conf import settings
from django.db import models


class ApplyRun(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    cluster = models.ForeignKey("vitiweb.Cluster", on_delete=models.SET_NULL, null=True, related_name="+")
    dry_run = models.BooleanField(default=False)
    create_namespaces = models.BooleanField(default=False)
    # Take over fields other field managers own (an Admin's choice: Git wins over hand edits).
    force = models.BooleanField(default=False)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED, db_index=True)
    # [{kind, namespace, name, state: pending|applied|unchanged|failed|skipped, message}], in apply order.
    # Secret values are never stored here: documents are kept in the redacted form the audit uses.
    items = models.JSONField(default=list, blank=True)
    # The documents to apply (Secret data included), encrypted like cluster credentials,
    # until the run has finished; then cleared.
    payload_encrypted = models.BinaryField(blank=True, default=b"", editable=False)
    message = models.TextField(blank=True)
    # Where the documents came from when not pasted (a Git source at a commit); every audit entry of the run says it.
    origin = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"apply run {self.pk} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)

    @property
    def done_count(self) -> int:
        return sum(1 for item in self.items if item.get("state") not in ("pending", "running"))
