"""In-process signals other apps may follow without the sync engine knowing them."""

from django.dispatch import Signal

#: Sent after a sync transaction that changed mirrored objects has committed, in the process that
#: wrote it (the sync worker holding the cluster's lease): ``cluster_id``, ``kind``, ``pks``.
mirror_changed = Signal()
