"""`manage.py sync --once`: one reconcile of every cluster, from the command line (issue 15: as fast as kubectl)."""

from datetime import timedelta

from django.utils import timezone

from tests.processes import manage, output, stop
from vitiweb import derive
from vitiweb.kinds import model_for
from vitiweb.models import FindingsRun, Lease, OverviewRun


def populated(registered):
    sandbox, cluster = registered
    sandbox.populate(vitistacks=2, machine_providers=3, kubernetes_providers=1, machines=20)
    return sandbox


def run_once(**env) -> str:
    """Run ``sync --once`` to its end; what it wrote to stderr (Python's import log with PYTHONPROFILEIMPORTTIME)."""
    process = manage("sync", "--once", **env)
    try:
        assert process.wait(120) == 0, output(process)
        return output(process)
    finally:
        stop(process)


def test_once_mirrors_every_kind_and_derives_the_findings_when_no_worker_does(registered):
    sandbox = populated(registered)

    run_once()

    assert model_for("Machine").objects.count() == len(sandbox.store.list("vitistack.io/v1alpha1", "Machine")) > 0
    assert FindingsRun.objects.exists() and OverviewRun.objects.exists()


def test_once_leaves_the_derivation_to_a_running_worker_that_holds_its_lease(registered):
    populated(registered)
    Lease.objects.create(name=derive.LEASE, holder="worker-a", expires_at=timezone.now() + timedelta(minutes=5))

    run_once()

    assert model_for("Machine").objects.exists()
    assert not FindingsRun.objects.exists() and not OverviewRun.objects.exists()


def test_an_expired_derive_lease_is_no_running_worker(registered):
    Lease.objects.create(name=derive.LEASE, holder="gone", expires_at=timezone.now() - timedelta(seconds=1))

    run_once()

    assert FindingsRun.objects.exists()


def test_once_does_not_import_the_web_pages_to_run_their_system_checks(registered):
    """Django's checks would import every URLconf and view: 0.7 s of a 1.5 s run, for pages it never serves."""
    populated(registered)
    # The findings are left to a worker: deriving the overview links to pages, which imports the URLconf.
    Lease.objects.create(name=derive.LEASE, holder="worker-a", expires_at=timezone.now() + timedelta(minutes=5))

    imports = run_once(PYTHONPROFILEIMPORTTIME="1")

    imported = {line.rsplit("|", 1)[-1].strip() for line in imports.splitlines() if line.startswith("import time:")}
    assert "vitiweb.sync.engine" in imported  # the log is read right: the sync's own modules are there
    assert not {"vitiweb.urls", "vitiweb.editing.views"} & imported
