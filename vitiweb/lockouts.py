"""An audit entry for every login lockout (django-axes counts the failures and refuses the logins)."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.dispatch import receiver


@receiver(user_locked_out, dispatch_uid="vitiweb-audit-lockout")
def audit_lockout(sender, request, username, ip_address, **kwargs):
    from vitiweb.models import AuditEntry

    AuditEntry.objects.create(
        action=AuditEntry.Action.LOCKOUT,
        kind="Login",
        name=str(username or "")[:253],
        result=AuditEntry.Result.FAILURE,
        message=f"login refused, locked out after repeated failures: user {str(username or '')[:150]!r} from {ip_address}",
    )
