"""Page times at 50,000 machines while the sync applies 200 changes/s, against the same pages idle.

Run against PostgreSQL (its own database, created and filled on first use, then reused):

    .venv/bin/python tests/bench/bench_pages_under_sync.py

A second process plays the production sync worker: it applies machine status
changes through the sync's own write path (``apply_events``: upsert, journal,
publish after commit) at ``--rate`` changes per second, one writer thread per
cluster batching as the sync's writers batch (everything that arrived during
the previous write), and runs
the derivation as ``manage.py sync`` does: a child process holding the
derivation lease, deriving and storing the findings and the overview after
the commits. This process measures the pages as a web process serves them
(Django's test client: routing, middleware, views, templates, database)
first with the writer stopped, then with it running, and counts how often a
page derived findings or the overview itself (it must be never). It prints
the load average before and after: the figures mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/vitiweb_bench_under_sync"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")
os.environ.setdefault("VITIWEB_LOG_LEVEL", "WARNING")

from tests.bench.bench_pages import CLUSTERS, MACHINES_PER_CLUSTER, create_database, populate  # noqa: E402

PHASES = ("Running", "Pending", "Provisioning", "Failed")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def raw_machine(row, phase: str, version: int) -> dict:
    """The machine as the API server would send it in a MODIFIED event."""
    return {
        "apiVersion": row.api_version or "vitistack.io/v1alpha1",
        "kind": "Machine",
        "metadata": {
            "name": row.name,
            "namespace": row.namespace,
            "uid": row.uid,
            "resourceVersion": str(version),
            "generation": row.generation or 1,
            "labels": row.labels,
            "annotations": row.annotations,
        },
        "spec": row.spec,
        "status": {**(row.status or {}), "phase": phase},
    }


def sync_writer(rate: int, ready, stop, applied, batches, window: float = 0.05) -> None:
    """The sync worker: machine changes arrive at ``rate`` per second across the clusters and are written as
    its writers write them, with the findings and overview derived beside it.

    As in ``vitiweb.sync.engine``, each cluster has a writer thread of its own, and a write takes everything
    that arrived for its cluster since the previous write began, at most every ``window`` seconds
    (``batch_window``), in one transaction: a slower write makes larger batches, not a lower rate. The
    derivation runs where ``manage.py sync`` runs it: in a child process holding the derive lease
    (``vitiweb.derive.start_process``).
    """
    import threading

    import django

    django.setup()
    from django.db import connection

    from machines.models import Machine
    from vitiweb.derive import start_process, stop_process
    from vitiweb.models import Cluster
    from vitiweb.sync.mirror import apply_events

    deriver = start_process("bench-sync-worker", lease_seconds=20.0)
    clusters = list(Cluster.objects.filter(name__startswith="bench-").order_by("name"))
    fields = ("name", "namespace", "uid", "api_version", "generation", "labels", "annotations", "spec", "status")
    rows = {cluster.pk: list(Machine.objects.filter(cluster=cluster).only(*fields)) for cluster in clusters}
    connection.close()
    ready.set()
    base = 10_000_000_000 + int(time.time()) % 100_000 * 10_000
    started = time.monotonic()

    def write(index: int, cluster) -> None:
        machines, share = rows[cluster.pk], rate / len(clusters)
        version, arrived = base + index * 100_000_000, 0
        try:
            while not stop.is_set():
                began = time.monotonic()
                due = int(share * (began - started)) - arrived
                if due > 0:
                    events = []
                    for _ in range(due):
                        arrived, version = arrived + 1, version + 1
                        row = machines[(arrived * 7919) % len(machines)]
                        events.append(("MODIFIED", raw_machine(row, PHASES[version % len(PHASES)], version)))
                    apply_events(cluster, "Machine", events, changed_by="bench")
                    with applied.get_lock():
                        applied.value += due
                        batches.value += 1
                time.sleep(max(0.0, window - (time.monotonic() - began)))
        finally:
            connection.close()

    writers = [threading.Thread(target=write, args=(i, cluster)) for i, cluster in enumerate(clusters)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop_process(deriver)


def measure(client, url: str, seconds: float) -> list[float]:
    """Request ``url`` again and again for ``seconds``; server times in ms."""
    for _ in range(2):
        assert client.get(url).status_code == 200, url
    timings = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=200, help="machine changes per second applied by the sync")
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring time per page and condition")
    args = parser.parse_args()

    url = os.environ["DATABASE_URL"]
    create_database(url)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from machines.models import Machine
    from providers.models import MachineProvider
    from tests.factories import ensure_roles
    from vitiweb import integrity, overview
    from vitiweb.derive import derive
    from vitiweb.models import FindingsRun, OverviewRun
    from vitiweb.roles import VIEWER

    call_command("migrate", verbosity=0)
    if Machine.objects.filter(cluster__name__startswith="bench-").count() != CLUSTERS * MACHINES_PER_CLUSTER:
        print(f"loading {CLUSTERS * MACHINES_PER_CLUSTER} machines in {CLUSTERS} clusters ...")
        populate()
    started = time.monotonic()
    derive()
    run, figures = FindingsRun.objects.first(), OverviewRun.objects.first()
    print(
        f"derived in {time.monotonic() - started:.2f}s: {sum(run.counts.values())} findings ({run.counts}) in "
        f"{run.duration_ms / 1000:.2f}s, the overview in {figures.duration_ms / 1000:.2f}s"
    )

    # Pages show the stored findings and overview; a page that computed either would call these: count it.
    computed = {"runs": 0}

    def counting(original):
        def count(*a, **kw):
            computed["runs"] += 1
            return original(*a, **kw)

        return count

    integrity.run_checks = counting(integrity.run_checks)
    overview.derive_overview = counting(overview.derive_overview)

    ensure_roles()
    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    user.groups.set([Group.objects.get(name=VIEWER)])
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    machine = Machine.objects.get(name="worker-03-00042")
    provider = MachineProvider.objects.get(cluster__name="bench-03", name="provider-2")
    pages = {
        "overview": "/",
        "machine list, filtered": "/machines/?cluster=bench-03&phase=Running",
        "machine detail": f"/machines/{machine.pk}/",
        "machine provider detail": f"/machineproviders/{provider.pk}/",
        "findings": "/topology/findings/",
    }
    connection.close()

    results = {}
    load_before = os.getloadavg()
    context = multiprocessing.get_context("spawn")
    for condition in ("idle", "syncing"):
        ready, stop, writer = context.Event(), context.Event(), None
        applied, batches = context.Value("i", 0), context.Value("i", 0)
        if condition == "syncing":
            writer = context.Process(target=sync_writer, args=(args.rate, ready, stop, applied, batches))
            writer.start()
            ready.wait(600)  # the writer has loaded its rows
            time.sleep(3)  # and reaches its rate
        began, applied_before, batches_before = time.monotonic(), applied.value, batches.value
        for name, page in pages.items():
            results[(condition, name)] = measure(client, page, args.seconds)
        elapsed = time.monotonic() - began
        if writer is not None:
            results[("rate", "")] = (applied.value - applied_before) / elapsed
            results[("batch", "")] = (applied.value - applied_before) / max(1, batches.value - batches_before)
            stop.set()
            writer.join(60)

    print(
        f"\n{Machine.objects.count()} machines, PostgreSQL ({connection.settings_dict['NAME']}), "
        f"{args.seconds:.0f} s of requests per page and condition; sync applied "
        f"{results[('rate', '')]:.0f} changes/s while syncing (asked: {args.rate}; "
        f"{results[('batch', '')]:.1f} changes per transaction)\n"
    )
    load_after = os.getloadavg()
    print(
        f"load average (1, 5, 15 min) on {os.cpu_count()} cores: {' '.join(f'{x:.2f}' for x in load_before)} "
        f"before, {' '.join(f'{x:.2f}' for x in load_after)} after (this run's own processes included)\n"
    )
    print(f"{'page':28} {'idle p50':>9} {'idle p99':>9} {'sync p50':>9} {'sync p99':>9} {'p99 ratio':>10} {'n':>5}")
    for name in pages:
        idle, busy = results[("idle", name)], results[("syncing", name)]
        idle_p99, busy_p99 = percentile(idle, 0.99), percentile(busy, 0.99)
        print(
            f"{name:28} {statistics.median(idle):9.1f} {idle_p99:9.1f} {statistics.median(busy):9.1f} "
            f"{busy_p99:9.1f} {busy_p99 / idle_p99:10.2f} {len(busy):5}"
        )
    print(f"\nfindings or overview derived by page requests: {computed['runs']} (must be 0)")
    print(f"command: DATABASE_URL={url} .venv/bin/python tests/bench/bench_pages_under_sync.py --rate {args.rate}")
    return 0 if computed["runs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
