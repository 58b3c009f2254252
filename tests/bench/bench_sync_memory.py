"""Benchmark of a sync worker's memory as the fleet it mirrors grows (issue 15), on PostgreSQL.

    .venv/bin/python tests/bench/bench_sync_memory.py [--steps 1,2,4] [--machines 2000]

A sandbox fleet (its own process) of max(--steps) clusters x (50 Vitistacks,
200 providers, --machines Machines). For each step n, into an empty database, a
`manage.py sync` worker process mirrors the first n clusters; once every object
is in the database its peak RSS (VmHWM) is read and it is stopped. Prints the
peak at each step, the growth per 1,000 objects (least-squares slope) and the
peak that slope extrapolates to at 500,000 objects (aim < 400 MB). The worker's
derivation child is a process of its own and not counted. The database is
vitiweb_bench_sync_memory unless DATABASE_URL names another.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vitiweb_bench_sync_memory")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")

from tests.bench.bench_sync import ensure_database, peak_rss_mb, serve_fleet  # noqa: E402

TARGET = 500_000


def empty_mirror() -> None:
    from django.db import connection

    from vitiweb.kinds import all_models

    with connection.cursor() as cursor:
        for model in all_models():
            cursor.execute(f'TRUNCATE "{model._meta.db_table}" CASCADE')
        cursor.execute(
            'TRUNCATE "vitiweb_journalentry", "vitiweb_reference", "vitiweb_knownsecret", "vitiweb_syncworker"'
        )


def mirrored() -> int:
    from vitiweb.kinds import all_models

    return sum(model.objects.count() for model in all_models())


def peak_while_mirroring(cluster_names: list[str], expected: int) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of a sync worker mirroring these clusters from an empty database."""
    empty_mirror()
    command = [sys.executable, "manage.py", "sync", "--name", "bench-memory", "--tick-seconds", "1"]
    for name in cluster_names:
        command += ["--cluster", name]
    worker = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "VITIWEB_LOG_LEVEL": "WARNING"})
    started = time.perf_counter()
    try:
        while mirrored() < expected:
            if worker.poll() is not None:
                sys.exit("the sync worker died")
            time.sleep(0.5)
        return peak_rss_mb(worker.pid), time.perf_counter() - started
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()


def slope(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through (x, y) points."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    gradient = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0
    return gradient, mean_y - gradient * mean_x


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="1,2,4", help="numbers of clusters mirrored, comma-separated")
    parser.add_argument("--machines", type=int, default=2000, help="Machines per cluster")
    args = parser.parse_args()
    steps = sorted({int(step) for step in args.steps.split(",")})

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from vitiweb.models import Cluster
    from vitiweb.sync.clusters import register_cluster

    call_command("migrate", verbosity=0)
    Cluster.objects.all().delete()
    kubeconfig = ROOT / "var" / "bench-sync-memory.kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    ours_end, fleet_end = multiprocessing.Pipe()
    fleet = multiprocessing.get_context("spawn").Process(
        target=serve_fleet, args=(fleet_end, steps[-1], args.machines, kubeconfig), daemon=True
    )
    fleet.start()
    results = []
    try:
        populated, counts = ours_end.recv()
        print(f"populated {steps[-1]} sandboxes in {populated:.1f}s")
        names = list(counts)
        for name in names:
            register_cluster(name, kubeconfig_path=str(kubeconfig), context=name)
        for step in steps:
            objects = sum(counts[name] for name in names[:step])
            rss, seconds = peak_while_mirroring(names[:step], objects)
            results.append((objects, rss))
            print(f"{step} clusters, {objects} objects: peak RSS {rss:.0f} MB (mirrored in {seconds:.1f}s)", flush=True)
    finally:
        ours_end.send(("stop",))
        fleet.join(60)

    per_object, base = slope(results)
    print()
    print(f"command: .venv/bin/python tests/bench/bench_sync_memory.py --steps {args.steps} --machines {args.machines}")
    for objects, rss in results:
        print(f"  {objects:>8} objects: {rss:6.0f} MB")
    print(f"growth: {per_object * 1000:.2f} MB per 1,000 objects (least squares over {len(results)} steps)")
    print(f"extrapolated peak RSS at {TARGET:,} objects: {base + per_object * TARGET:.0f} MB  (aim < 400 MB)")
    if len(results) > 1:
        # The growth is not linear (snapshots in memory are bounded by the list gate, not by the fleet):
        # the slope between the two largest steps says where it is heading.
        (small, small_rss), (large, large_rss) = results[-2:]
        marginal = (large_rss - small_rss) / (large - small)
        print(
            f"marginal growth between the two largest steps: {marginal * 1000:.2f} MB per 1,000 objects, "
            f"extrapolating to {large_rss + marginal * (TARGET - large):.0f} MB at {TARGET:,} objects"
        )
    print(
        json.dumps(
            {
                "steps": [{"objects": objects, "peak_rss_mb": round(rss)} for objects, rss in results],
                "mb_per_1000_objects": round(per_object * 1000, 2),
                "extrapolated_mb_at_500k": round(base + per_object * TARGET),
            }
        )
    )


if __name__ == "__main__":
    main()
