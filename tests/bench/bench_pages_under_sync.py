"""Page times at 50,000 machines while the sync applies 200 changes/s, against the same pages idle.

Run against PostgreSQL (its own database, created and filled on first use, then reused):

    .venv/bin/python tests/bench/bench_pages_under_sync.py

A second process plays the production sync worker: it applies machine status
changes through the sync's own write path (``apply_events``: upsert, journal,
publish after commit) at ``--rate`` changes per second in batches, and holds
the derivation lease, recomputing and storing the integrity findings after
its commits as ``manage.py sync`` does. This process measures the pages as a
web process serves them (Django's test client: routing, middleware, views,
templates, database) first with the writer stopped, then with it running,
and counts how often a page ran the integrity checks (it must be never).
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


def sync_writer(rate: int, stop, applied, batches_per_second: int = 10) -> None:
    """The sync worker: ``rate`` machine changes per second through the mirror, and the findings deriver."""
    import django

    django.setup()
    from machines.models import Machine
    from vitiweb.derive import Deriver
    from vitiweb.models import Cluster
    from vitiweb.sync.mirror import apply_events

    deriver = Deriver("bench-sync-worker", poll_seconds=1.0)
    deriver.start()
    clusters = list(Cluster.objects.filter(name__startswith="bench-").order_by("name"))
    rows = {
        cluster.pk: list(
            Machine.objects.filter(cluster=cluster).only(
                "name", "namespace", "uid", "api_version", "generation", "labels", "annotations", "spec", "status"
            )
        )
        for cluster in clusters
    }
    per_batch = max(1, rate // batches_per_second)
    version, index = 10_000_000, 0
    next_batch = time.monotonic()
    while not stop.is_set():
        cluster = clusters[index % len(clusters)]
        machines = rows[cluster.pk]
        events = []
        for _ in range(per_batch):
            version += 1
            row = machines[(index * 7919 + version) % len(machines)]
            events.append(("MODIFIED", raw_machine(row, PHASES[version % len(PHASES)], version)))
        apply_events(cluster, "Machine", events, changed_by="bench")
        applied.value += len(events)
        index += 1
        next_batch += 1.0 / batches_per_second
        time.sleep(max(0.0, next_batch - time.monotonic()))
    deriver.stop()


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
    from vitiweb import integrity
    from vitiweb.roles import VIEWER

    call_command("migrate", verbosity=0)
    if Machine.objects.filter(cluster__name__startswith="bench-").count() != CLUSTERS * MACHINES_PER_CLUSTER:
        print(f"loading {CLUSTERS * MACHINES_PER_CLUSTER} machines in {CLUSTERS} clusters ...")
        populate()
    started = time.monotonic()
    run = integrity.store_findings()
    print(f"findings stored: {sum(run.counts.values())} ({run.counts}) in {time.monotonic() - started:.2f}s")

    # Every page shows findings; a page that computed them would call run_checks: count it.
    computed = {"runs": 0}
    original = integrity.run_checks

    def counting(*a, **kw):
        computed["runs"] += 1
        return original(*a, **kw)

    integrity.run_checks = counting

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
    context = multiprocessing.get_context("spawn")
    for condition in ("idle", "syncing"):
        stop, applied, writer = context.Event(), context.Value("i", 0), None
        if condition == "syncing":
            writer = context.Process(target=sync_writer, args=(args.rate, stop, applied))
            writer.start()
            time.sleep(5)  # the writer loads its rows and reaches its rate
        began, applied_before = time.monotonic(), applied.value
        for name, page in pages.items():
            results[(condition, name)] = measure(client, page, args.seconds)
        elapsed = time.monotonic() - began
        if writer is not None:
            rate = (applied.value - applied_before) / elapsed
            stop.set()
            writer.join(60)
            results[("rate", "")] = rate

    print(
        f"\n{Machine.objects.count()} machines, PostgreSQL ({connection.settings_dict['NAME']}), "
        f"{args.seconds:.0f} s of requests per page and condition; sync applied "
        f"{results[('rate', '')]:.0f} changes/s while syncing (asked: {args.rate})\n"
    )
    print(f"{'page':28} {'idle p50':>9} {'idle p99':>9} {'sync p50':>9} {'sync p99':>9} {'p99 ratio':>10} {'n':>5}")
    for name in pages:
        idle, busy = results[("idle", name)], results[("syncing", name)]
        idle_p99, busy_p99 = percentile(idle, 0.99), percentile(busy, 0.99)
        print(
            f"{name:28} {statistics.median(idle):9.1f} {idle_p99:9.1f} {statistics.median(busy):9.1f} "
            f"{busy_p99:9.1f} {busy_p99 / idle_p99:10.2f} {len(busy):5}"
        )
    print(f"\nintegrity checks run by page requests: {computed['runs']} (must be 0)")
    print(f"command: DATABASE_URL={url} .venv/bin/python tests/bench/bench_pages_under_sync.py --rate {args.rate}")
    return 0 if computed["runs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
