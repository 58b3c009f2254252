"""Benchmark of the sync engine (issues 4 and 15), on PostgreSQL.

    .venv/bin/python tests/bench/bench_sync.py [--clusters 10] [--machines 5000] [--rate 200] [--seconds 15]

A sandbox fleet of --clusters clusters x (50 Vitistacks, 200 providers,
--machines Machines), served from one process of its own. Prints:
- the sandbox's own rate: objects per second it serves when this process only
  fetches every page of every list (bytes, not decoded), to show it is not the
  bottleneck of what follows;
- initial sync: objects per second of a `manage.py sync` worker process (or
  --workers of them sharing the clusters through leases), next to
  the rate at which this process lists (pages of 500) and decodes the same
  objects (the ratio is the figure; aim >= 0.3 at 100 clusters);
- event-to-committed-row latency p50/p99 while the sandboxes change machine
  status at --rate events/s spread over every cluster (from the change in the
  sandbox to the journal row's commit time; aim p99 < 200 ms at 1,000/s);
- the worker process's peak RSS (VmHWM; aim < 400 MB).
The database is vitiweb_bench_sync unless DATABASE_URL names another.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vitiweb_bench_sync")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")


def ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        sys.exit("bench_sync measures PostgreSQL: set DATABASE_URL=postgres://...")
    name = url.rsplit("/", 1)[1]
    base = url.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


GROUP_VERSION = "vitistack.io/v1alpha1"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def serve_fleet(conn, clusters: int, machines: int, kubeconfig: Path) -> None:
    """The sandbox fleet's process: populate, serve, and change Machines' status when asked."""
    from vitiweb.sandbox import SandboxFleet

    fleet = SandboxFleet(clusters, warn=lambda m: None)
    started = time.perf_counter()
    counts = {}
    for index, sandbox in enumerate(fleet):
        created = sandbox.populate(
            vitistacks=50, machine_providers=150, kubernetes_providers=50, machines=machines, seed=index
        )["created"]
        counts[sandbox.name] = sum(created.values())
    populated = time.perf_counter() - started
    fleet.start()
    fleet.write_kubeconfig(kubeconfig)
    conn.send((populated, counts))
    try:
        while True:
            command, *arguments = conn.recv()
            if command == "stop":
                break
            conn.send(change_status(fleet, *arguments))
    finally:
        fleet.stop()


def change_status(fleet, rate: int, seconds: float) -> tuple[dict[str, float], float]:
    """Change Machines' status.message at ``rate`` per second across the fleet, each message naming its send time."""
    # Round robin over the clusters, so every cluster's watch carries its share of the rate.
    per_cluster = [
        [(sandbox, m["metadata"]) for m in sandbox.store.list(GROUP_VERSION, "Machine")[:400]] for sandbox in fleet
    ]
    interleaved = [pair for group in zip(*per_cluster, strict=False) for pair in group]
    sent: dict[str, float] = {}
    interval = 1.0 / rate
    count = int(rate * seconds)
    begin = time.perf_counter()
    for index in range(count):
        sandbox, metadata = interleaved[index % len(interleaved)]
        obj = sandbox.store.get(GROUP_VERSION, "Machine", metadata["name"], metadata["namespace"])
        stamp = time.time()
        message = f"bench {index} {stamp}"
        obj["status"] = {"phase": "Running", "message": message}
        sandbox.store.update_status(obj)
        sent[message] = stamp
        delay = begin + (index + 1) * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return sent, count / (time.perf_counter() - begin)


def all_watching() -> bool:
    """Whether every installed kind of every registered cluster is watching: its first list is committed."""
    from vitiweb.kube.reflector import WATCHING
    from vitiweb.models import Cluster

    for kind_states in Cluster.objects.values_list("kind_states", flat=True):
        installed = [state for state in (kind_states or {}).values() if state.get("installed", True)]
        if not installed or any(state.get("state") != WATCHING for state in installed):
            return False
    return True


def fetch_every_page(api_client, resource) -> int:
    """Objects served in every page of one list, counted without decoding them (the sandbox's own pace)."""
    from vitiweb.kube.transport import open_path, read_body

    served, token = 0, None
    while True:
        response = open_path(api_client, resource.path(), {"limit": 500, "continue": token})
        body = read_body(api_client, response)
        served += body.count(b'"uid"')
        # The list's metadata (and its continue token) comes before the items.
        head = body[: body.find(b'"items"')]
        marker = head.find(b'"continue":"')
        if marker < 0:
            return served
        token = head[marker + 12 : head.index(b'"', marker + 12)].decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--machines", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=200, help="status changes per second during the latency run")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--without-monitor",
        action="store_true",
        help="the worker mirrors only (VITIWEB_MONITOR=0): each cluster's monitor holds two more database "
        "connections, which at dozens of clusters exceed a default PostgreSQL's max_connections",
    )
    parser.add_argument("--workers", type=int, default=1, help="sync worker processes sharing the clusters")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from vitiweb.kinds import KINDS, model_for
    from vitiweb.kube.discovery import discover
    from vitiweb.kube.reflector import list_objects
    from vitiweb.models import Cluster, JournalEntry
    from vitiweb.sync.clusters import api_client_for, register_cluster

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        # Without autovacuum no table is analysed while the fleet loads: the planner keeps the estimates of
        # empty tables and, at tens of clusters, scans every reference of a kind to delete a thousand.
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
    with connection.cursor() as cursor:  # a clean slate: the mirror tables only
        for model in [*(model_for(k) for k in KINDS)]:
            cursor.execute(f'TRUNCATE "{model._meta.db_table}" CASCADE')
        cursor.execute(
            'TRUNCATE "vitiweb_journalentry", "vitiweb_reference", "vitiweb_knownsecret", "vitiweb_syncworker"'
        )
    Cluster.objects.all().delete()

    kubeconfig = ROOT / "var" / "bench-sync.kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    ours_end, fleet_end = multiprocessing.Pipe()
    fleet = multiprocessing.get_context("spawn").Process(
        target=serve_fleet, args=(fleet_end, args.clusters, args.machines, kubeconfig), daemon=True
    )
    fleet.start()
    populated, counts = ours_end.recv()
    print(f"populated {args.clusters} sandboxes in {populated:.1f}s", flush=True)
    clusters = [register_cluster(name, kubeconfig_path=str(kubeconfig), context=name) for name in counts]
    expected = sum(counts.values())

    def list_everything(read) -> tuple[int, float]:
        started = time.perf_counter()
        listed = 0
        for cluster in clusters:
            api_client = api_client_for(cluster)
            found = discover(api_client)
            for info in found.kinds.values():
                if info.installed:
                    listed += read(api_client, info.resource())
            api_client.close()
        return listed, time.perf_counter() - started

    # The sandbox's pace: fetch every page, decode nothing.
    served, sandbox_seconds = list_everything(fetch_every_page)
    assert served == expected, (served, expected)
    # Baseline: list (pages of 500) and decode, in this process.
    listed, baseline_seconds = list_everything(lambda api_client, resource: len(list_objects(api_client, resource)))
    assert listed == expected, (listed, expected)

    # Ours: a sync worker process, from start until every object is in the database.
    env = {**os.environ, "VITIWEB_LOG_LEVEL": "WARNING"}
    if args.without_monitor:
        env["VITIWEB_MONITOR"] = "0"
    # Several workers share the clusters through leases, as replicas of the sync Deployment do.
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "sync", "--name", f"bench-{index}", "--tick-seconds", "1"],
            cwd=ROOT,
            env=env,
        )
        for index in range(args.workers)
    ]
    try:
        started = time.perf_counter()
        # Every kind of every cluster watching means each first list is committed. Reading 100 cluster rows is
        # cheap, where counting half a million rows five times a second would load the database it measures.
        while not (all_watching() and sum(model_for(k).objects.count() for k in KINDS) == expected):
            if any(worker.poll() is not None for worker in workers):
                sys.exit("a sync worker died")
            time.sleep(0.2)
        sync_seconds = time.perf_counter() - started
        print(f"initial sync: {expected} objects in {sync_seconds:.1f}s", flush=True)

        # Latency: status changes at a fixed rate, each carrying its send time.
        JournalEntry.objects.all().delete()
        time.sleep(1.0)
        print(f"changing {args.rate} Machines' status per second for {args.seconds:g}s", flush=True)
        ours_end.send(("drive", args.rate, args.seconds))
        sent, achieved_rate = ours_end.recv()
        count = len(sent)
        time.sleep(2.0)
        latencies = []
        for changes, recorded in JournalEntry.objects.values_list("changes", "recorded_at"):
            for change in changes:
                if change["path"] == "status.message" and change["new"] in sent:
                    latencies.append((recorded.timestamp() - sent[change["new"]]) * 1000)
        rss = max(peak_rss_mb(worker.pid) for worker in workers)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        ours_end.send(("stop",))
        fleet.join(60)

    ours = expected / sync_seconds
    baseline = expected / baseline_seconds
    print()
    print(
        f"command: .venv/bin/python tests/bench/bench_sync.py --clusters {args.clusters} --machines {args.machines} "
        f"--rate {args.rate} --seconds {args.seconds:g}"
        + (f" --workers {args.workers}" if args.workers > 1 else "")
        + (" --without-monitor" if args.without_monitor else "")
    )
    print(f"fleet: {args.clusters} clusters, {expected} objects ({expected // args.clusters} per cluster)")
    print(f"PostgreSQL autovacuum: {autovacuum}" + ("" if autovacuum == "on" else " (tables never analysed)"))
    print(
        f"sandbox fleet's own pace (one process; pages fetched, not decoded): "
        f"{sandbox_seconds:.1f}s = {expected / sandbox_seconds:,.0f} objects/s"
    )
    print(
        f"initial sync (worker process, list + bulk upsert + references + journal): {sync_seconds:.1f}s = {ours:,.0f} objects/s"
    )
    print(
        f"baseline (this process, list + json.loads only):                        {baseline_seconds:.1f}s = {baseline:,.0f} objects/s"
    )
    print(f"ratio ours/baseline: {ours / baseline:.2f}  (aim >= 0.3)")
    print(
        f"event -> committed row at {achieved_rate:.0f} events/s: {len(latencies)} of {count} events measured, "
        f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 99):.0f} ms  (aim p99 < 200 ms)"
    )
    print(
        f"sync worker peak RSS{' (the largest of the workers)' if args.workers > 1 else ''}: {rss:.0f} MB  (aim < 400 MB)"
    )
    print(
        json.dumps(
            {
                "clusters": args.clusters,
                "objects": expected,
                "sandbox_objects_per_s": round(expected / sandbox_seconds),
                "sync_objects_per_s": round(ours),
                "baseline_objects_per_s": round(baseline),
                "ratio": round(ours / baseline, 2),
                "latency_p50_ms": round(statistics.median(latencies)),
                "latency_p99_ms": round(percentile(latencies, 99)),
                "events_per_s": round(achieved_rate),
                "peak_rss_mb": round(rss),
                "workers": args.workers,
                "autovacuum": autovacuum,
            }
        )
    )


if __name__ == "__main__":
    main()
