"""Leases on work that one process at a time does for the whole deployment.

A lease is a row taken with a conditional UPDATE (free, expired, or already
ours), so two processes can never both hold it; the holder renews it before
it expires, and a dead holder's lease is taken over once it has expired.
Cluster syncs lease their clusters the same way, on the ``Cluster`` row.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from vitiweb.models import Lease


def hold(name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease ``name`` for ``seconds``; False while another holder's lease runs."""
    now = timezone.now()
    if not Lease.objects.filter(name=name).exists():
        try:
            with transaction.atomic():
                Lease.objects.create(name=name)
        except IntegrityError:
            pass  # another process created it first; the UPDATE below decides
    taken = (
        Lease.objects.filter(name=name)
        .filter(Q(holder="") | Q(holder=holder) | Q(expires_at__lt=now) | Q(expires_at=None))
        .update(holder=holder, expires_at=now + timedelta(seconds=seconds))
    )
    return taken == 1


def release(name: str, holder: str) -> None:
    Lease.objects.filter(name=name, holder=holder).update(holder="", expires_at=None)
