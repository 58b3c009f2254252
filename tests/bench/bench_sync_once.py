"""Benchmark of `manage.py sync --once` against `kubectl get -o json` (issue 15), on PostgreSQL.

    .venv/bin/python tests/bench/bench_sync_once.py [--machines 5000] [--repeat 3]

One sandbox cluster (its own process, `manage.py sandbox --populate`) holds
--machines Machines plus 50 Vitistacks and 200 providers. In the same run it
times, as wall clock of whole processes (interpreter start included):

- `kubectl get machines -A -o json` of that cluster, output discarded: the baseline;
- `manage.py sync --once` into an empty database (the first sync);
- `manage.py sync --once` again, nothing having changed (the second sync).

A sync is timed until it prints the cluster's line, when every object is
committed (the aim: mirrored before kubectl has printed them), and until its
process ends, which also derives the fleet's findings and overview.

Each figure is the median of --repeat runs; the ratios sync/kubectl are the
figures (aim <= 1.0: mirrored before kubectl has printed them). The database is
vitiweb_bench_sync_once unless DATABASE_URL names another PostgreSQL database.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vitiweb_bench_sync_once")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")

from tests.bench.bench_sync import ensure_database  # noqa: E402

KUBECTL = ROOT / ".venv" / "bin" / "kubectl"


def start_sandbox(machines: int, kubeconfig: Path) -> subprocess.Popen:
    """A one-cluster sandbox in its own process; returns once it serves."""
    kubeconfig.unlink(missing_ok=True)
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "sandbox",
            "--port",
            "0",
            "--kubeconfig-out",
            str(kubeconfig),
            "--populate",
            f"vitistacks=50,machine_providers=150,kubernetes_providers=50,machines={machines}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in sandbox.stdout:
        if line.startswith("kubeconfig:"):
            return sandbox
    sys.exit("the sandbox did not start")


def timed(command: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def timed_sync(command: list[str], env: dict) -> tuple[float, float]:
    """(seconds until the cluster's line was printed: every object committed, seconds until the process ended)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    mirrored = None
    for line in process.stdout:
        if line.startswith("sandbox:"):
            mirrored = time.perf_counter() - started
    if process.wait() != 0 or mirrored is None:
        sys.exit(f"sync --once failed (exit status {process.returncode})")
    return mirrored, time.perf_counter() - started


def empty_mirror() -> None:
    from django.db import connection

    from vitiweb.kinds import all_models

    with connection.cursor() as cursor:
        for model in all_models():
            cursor.execute(f'TRUNCATE "{model._meta.db_table}" CASCADE')
        cursor.execute('TRUNCATE "vitiweb_journalentry", "vitiweb_reference", "vitiweb_knownsecret"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--machines", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from vitiweb.kinds import model_for
    from vitiweb.models import Cluster
    from vitiweb.sync.clusters import register_cluster

    call_command("migrate", verbosity=0)
    Cluster.objects.all().delete()
    kubeconfig = ROOT / "var" / "bench-sync-once.kubeconfig"
    sandbox = start_sandbox(args.machines, kubeconfig)
    try:
        register_cluster("sandbox", kubeconfig_path=str(kubeconfig), context="sandbox")
        kubectl = [str(KUBECTL), "--kubeconfig", str(kubeconfig), "get", "machines", "-A", "-o", "json"]
        listed = json.loads(subprocess.run(kubectl, check=True, capture_output=True).stdout)["items"]
        assert len(listed) == args.machines, len(listed)
        env = {**os.environ, "VITIWEB_LOG_LEVEL": "WARNING"}
        sync = [sys.executable, "manage.py", "sync", "--once"]

        kubectl_runs, first_runs, second_runs, first_ends, second_ends = [], [], [], [], []
        for _ in range(args.repeat):
            kubectl_runs.append(timed(kubectl))
            empty_mirror()
            mirrored, ended = timed_sync(sync, env)
            first_runs.append(mirrored)
            first_ends.append(ended)
            assert model_for("Machine").objects.count() == args.machines
            mirrored, ended = timed_sync(sync, env)
            second_runs.append(mirrored)
            second_ends.append(ended)
    finally:
        sandbox.terminate()
        sandbox.wait(20)

    kubectl_s, first_s, second_s = (statistics.median(runs) for runs in (kubectl_runs, first_runs, second_runs))
    first_end_s, second_end_s = statistics.median(first_ends), statistics.median(second_ends)
    print()
    print(f"command: .venv/bin/python tests/bench/bench_sync_once.py --machines {args.machines} --repeat {args.repeat}")
    print(f"one sandbox cluster: {args.machines} Machines (+50 Vitistacks, 200 providers); medians of {args.repeat}")
    print(
        f"kubectl get machines -A -o json:        {kubectl_s:.2f}s  (runs {', '.join(f'{s:.2f}' for s in kubectl_runs)})"
    )
    print("sync --once, until every object is committed (its line printed), and until the process ends, which")
    print("  includes deriving the fleet's findings and overview (no sync worker runs to do it):")
    print(
        f"  first (empty database):    {first_s:.2f}s  (runs {', '.join(f'{s:.2f}' for s in first_runs)}); "
        f"ended {first_end_s:.2f}s"
    )
    print(
        f"  second (nothing changed):  {second_s:.2f}s  (runs {', '.join(f'{s:.2f}' for s in second_runs)}); "
        f"ended {second_end_s:.2f}s"
    )
    print(f"ratio first sync / kubectl:  {first_s / kubectl_s:.2f}  (aim <= 1.0)")
    print(f"ratio second sync / kubectl: {second_s / kubectl_s:.2f}  (aim <= 1.0)")
    print(
        json.dumps(
            {
                "machines": args.machines,
                "kubectl_s": round(kubectl_s, 2),
                "first_sync_s": round(first_s, 2),
                "second_sync_s": round(second_s, 2),
                "first_sync_ended_s": round(first_end_s, 2),
                "second_sync_ended_s": round(second_end_s, 2),
                "first_ratio": round(first_s / kubectl_s, 2),
                "second_ratio": round(second_s / kubectl_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
