"""Benchmark of the sync engine (issue 4), on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitiweb_bench_sync .venv/bin/python tests/bench/bench_sync.py

10 sandbox clusters x (50 Vitistacks, 200 providers, 5,000 Machines). Prints:
- initial sync: objects per second of a `manage.py sync` worker process, next to
  the rate at which this process only lists and json.loads the same objects
  (the ratio is the figure; aim >= 0.5);
- event-to-committed-row latency p50/p99 while the sandboxes change machine
  status at 200 events/s (from the change in the sandbox to the journal row's
  commit time; aim p99 < 200 ms);
- the worker process's peak RSS (VmHWM; aim < 400 MB).
Options: --clusters N --machines N --rate N --seconds N.
"""

from __future__ import annotations

import argparse
import json
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


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--machines", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=200, help="status changes per second during the latency run")
    parser.add_argument("--seconds", type=float, default=15.0)
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
    from vitiweb.sandbox import SandboxFleet
    from vitiweb.sync.clusters import api_client_for, register_cluster

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:  # a clean slate: the mirror tables only
        for model in [*(model_for(k) for k in KINDS)]:
            cursor.execute(f'TRUNCATE "{model._meta.db_table}" CASCADE')
        cursor.execute(
            'TRUNCATE "vitiweb_journalentry", "vitiweb_reference", "vitiweb_knownsecret", "vitiweb_syncworker"'
        )
    Cluster.objects.all().delete()

    fleet = SandboxFleet(args.clusters, warn=lambda m: None)
    started = time.perf_counter()
    for index, sandbox in enumerate(fleet):
        sandbox.populate(
            vitistacks=50, machine_providers=150, kubernetes_providers=50, machines=args.machines, seed=index
        )
    print(f"populated {args.clusters} sandboxes in {time.perf_counter() - started:.1f}s")
    fleet.start()
    kubeconfig = fleet.write_kubeconfig(ROOT / "var" / "bench-sync.kubeconfig")
    clusters = [register_cluster(sb.name, kubeconfig_path=str(kubeconfig), context=sb.name) for sb in fleet]
    expected = sum(len(sb.store.list("vitistack.io/v1alpha1", kind)) for sb in fleet for kind in KINDS)

    # Baseline: only list (paginated, raw) and json.loads, in this process.
    started = time.perf_counter()
    listed = 0
    for cluster in clusters:
        api_client = api_client_for(cluster)
        found = discover(api_client)
        for kind in KINDS:
            listed += len(list_objects(api_client, found.kinds[kind].resource()))
        api_client.close()
    baseline_seconds = time.perf_counter() - started
    assert listed == expected, (listed, expected)

    # Ours: a sync worker process, from start until every object is in the database.
    env = {**os.environ, "VITIWEB_LOG_LEVEL": "WARNING"}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "sync", "--name", "bench", "--tick-seconds", "1"],
        cwd=ROOT,
        env=env,
    )
    try:
        started = time.perf_counter()
        while sum(model_for(k).objects.count() for k in KINDS) < expected:
            if worker.poll() is not None:
                sys.exit("the sync worker died")
            time.sleep(0.2)
        sync_seconds = time.perf_counter() - started

        # Latency: status changes at a fixed rate, each carrying its send time.
        JournalEntry.objects.all().delete()
        time.sleep(1.0)
        machines = [(sb, m) for sb in fleet for m in sb.store.list("vitistack.io/v1alpha1", "Machine")[:400]]
        sent: dict[tuple[str, str], float] = {}
        interval = 1.0 / args.rate
        begin = time.perf_counter()
        count = int(args.rate * args.seconds)
        for index in range(count):
            sandbox, obj = machines[index % len(machines)]
            obj = sandbox.store.get(
                "vitistack.io/v1alpha1", "Machine", obj["metadata"]["name"], obj["metadata"]["namespace"]
            )
            stamp = time.time()
            obj["status"] = {"phase": "Running", "message": f"bench {index} {stamp}"}
            sandbox.store.update_status(obj)
            sent[f"bench {index} {stamp}"] = stamp
            delay = begin + (index + 1) * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        achieved_rate = count / (time.perf_counter() - begin)
        time.sleep(2.0)
        latencies = []
        for changes, recorded in JournalEntry.objects.values_list("changes", "recorded_at"):
            for change in changes:
                if change["path"] == "status.message" and change["new"] in sent:
                    latencies.append((recorded.timestamp() - sent[change["new"]]) * 1000)
        rss = peak_rss_mb(worker.pid)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        fleet.stop()

    ours = expected / sync_seconds
    baseline = expected / baseline_seconds
    print()
    print(
        "command: DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitiweb_bench_sync .venv/bin/python tests/bench/bench_sync.py"
    )
    print(f"fleet: {args.clusters} clusters, {expected} objects ({expected // args.clusters} per cluster)")
    print(
        f"initial sync (worker process, list + bulk upsert + references + journal): {sync_seconds:.1f}s = {ours:,.0f} objects/s"
    )
    print(
        f"baseline (this process, list + json.loads only):                        {baseline_seconds:.1f}s = {baseline:,.0f} objects/s"
    )
    print(f"ratio ours/baseline: {ours / baseline:.2f}  (aim >= 0.5)")
    print(
        f"event -> committed row at {achieved_rate:.0f} events/s: {len(latencies)} of {count} events measured, "
        f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 99):.0f} ms  (aim p99 < 200 ms)"
    )
    print(f"sync worker peak RSS: {rss:.0f} MB  (aim < 400 MB)")
    print(
        json.dumps(
            {
                "objects": expected,
                "sync_objects_per_s": round(ours),
                "baseline_objects_per_s": round(baseline),
                "ratio": round(ours / baseline, 2),
                "latency_p50_ms": round(statistics.median(latencies)),
                "latency_p99_ms": round(percentile(latencies, 99)),
                "peak_rss_mb": round(rss),
            }
        )
    )


if __name__ == "__main__":
    main()
