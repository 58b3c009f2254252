"""Events retention under a flood: 1,000 Events/s for a minute into one cluster, mirrored by Vitiweb.

    .venv/bin/python tests/bench/bench_events.py [--rate 1000] [--seconds 60] [--objects 200]

Runs against PostgreSQL (database vitiweb_bench_events, created and migrated on first use; set
DATABASE_URL to use another). A sandbox cluster in this process receives the Events (events.k8s.io/v1,
each a new Event about one of --objects Machines, one in ten a Warning); the Events mirror lists and
watches them over HTTP and writes them with retention (VITIWEB_EVENTS_PER_OBJECT, default 25). Printed:
the rate achieved, rows written, the Event table's size (peak and final, against the bound objects x
per-object), the delay from the last Event created to its row, and server times of the pages that read
Events (fleet Events page, a Machine's Events tab, the overview) before the flood (baseline) and during it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vitiweb_bench_events")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")
os.environ.setdefault("VITIWEB_LOG_LEVEL", "WARNING")

from tests.bench.bench_pages import create_database  # noqa: E402


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def serve(kubeconfig: str, rate: int, seconds: float, objects: int) -> None:
    """The child: a sandbox cluster that, on "go", creates `rate` Events per second for `seconds`."""
    from vitiweb.sandbox import Sandbox
    from vitiweb.sandbox.store import WriteOptions

    sandbox = Sandbox(warn=lambda m: None, history_size=200_000)
    sandbox.start()
    store = sandbox.store
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flood"}})
    tmp = Path(kubeconfig + ".tmp")
    sandbox.write_kubeconfig(tmp)
    tmp.rename(kubeconfig)
    sys.stdin.readline()
    options = WriteOptions(manager="machine-controller")
    rt = store.registry.lookup("events.k8s.io", "v1", "events")
    interval = 1.0 / rate
    start = time.perf_counter()
    i, name = 0, ""
    while time.perf_counter() - start < seconds:
        due = start + i * interval
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        name = f"m-{i % objects}.{i:09d}"
        store.create(
            {
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": "flood"},
                "regarding": {
                    "apiVersion": "vitistack.io/v1alpha1",
                    "kind": "Machine",
                    "name": f"m-{i % objects}",
                    "namespace": "flood",
                },
                "type": "Warning" if i % 10 == 0 else "Normal",
                "reason": "ProvisioningFailed" if i % 10 == 0 else "Reconciled",
                "note": f"event {i}",
                "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "reportingController": "machine-controller",
            },
            rt=rt,
            options=options,
        )
        i += 1
    print(i, f"{time.perf_counter() - start:.3f}", name, flush=True)
    sys.stdin.readline()
    sandbox.stop()


def run_mirror(cluster_id: int, kubeconfig: str) -> None:
    """The sync worker's part: the Events mirror of the cluster, until told to stop; prints rows written."""
    import django

    django.setup()
    from kubernetes import config

    from vitiweb.monitoring.events import EventMirror

    mirror = EventMirror(cluster_id, config.new_client_from_config(kubeconfig), {"vitistack-system"})
    mirror.start()
    print("started", flush=True)
    sys.stdin.readline()
    mirror.stop()
    print(mirror.written, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--mirror", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.rate, args.seconds, args.objects)
    if args.mirror:
        return run_mirror(args.mirror, args.kubeconfig)
    create_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    call_command("migrate", verbosity=0)
    from machines.models import Machine
    from tests import factories
    from vitiweb.models import Cluster
    from vitiweb.monitoring.models import Event

    Cluster.objects.filter(name="bench-events").delete()
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="bench-events").delete()
    user = factories.admin(username="bench-events")
    # The cluster runs in a process of its own, as a real API server would: the flood does not share
    # this process's interpreter with the mirror and the pages being measured.
    kubeconfig = ROOT / "var" / "bench-events.kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(kubeconfig),
            "--rate",
            str(args.rate),
            "--seconds",
            str(args.seconds),
            "--objects",
            str(args.objects),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    while not kubeconfig.exists():
        time.sleep(0.05)
    cluster = factories.make_cluster("bench-events", source=Cluster.Source.SANDBOX)
    factories.mirror(cluster, factories.k8s_object("Machine", "m-0", namespace="flood"))
    machine = Machine.objects.get(cluster=cluster, name="m-0")

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    pages = {
        "events page": reverse("event_list"),
        "warnings, last 15m": reverse("event_list") + "?type=Warning&since=15m",
        "machine Events tab": reverse("machine_events", args=[machine.pk]),
        "overview": "/",
    }

    def time_pages(rounds: int) -> dict[str, list[float]]:
        timings = {name: [] for name in pages}
        for _ in range(rounds):
            for name, url in pages.items():
                start = time.perf_counter()
                response = client.get(url)
                timings[name].append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (url, response.status_code)
        return timings

    # The mirror runs where production runs it, in a sync worker process of its own.
    mirror = subprocess.Popen(
        [sys.executable, __file__, "--mirror", str(cluster.pk), "--kubeconfig", str(kubeconfig)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    mirror.stdout.readline()  # started
    baseline = time_pages(10)

    sizes = []
    child.stdin.write("go\n")
    child.stdin.flush()
    flood_start = time.perf_counter()
    during = {name: [] for name in pages}
    while child.poll() is None and time.perf_counter() - flood_start < args.seconds + 30:
        sizes.append(Event.objects.filter(cluster=cluster).count())
        for name, values in time_pages(1).items():
            during[name].extend(values)
        time.sleep(0.5)
        if time.perf_counter() - flood_start > args.seconds:
            break
    created, elapsed, last_name = child.stdout.readline().split()
    created, elapsed = int(created), float(elapsed)
    end = time.perf_counter()
    while not Event.objects.filter(cluster=cluster, name=last_name).exists():
        if time.perf_counter() - end > 120:
            print("the last event never arrived")
            break
        time.sleep(0.02)
    caught_up = time.perf_counter() - end
    time.sleep(1.5)  # one more retention pass
    final = Event.objects.filter(cluster=cluster).count()
    sizes.append(final)
    mirror.stdin.write("stop\n")
    mirror.stdin.flush()
    written = int(mirror.stdout.readline())
    mirror.wait(30)
    child.stdin.write("stop\n")
    child.stdin.flush()
    child.wait(30)

    bound = args.objects * settings.VITIWEB_EVENTS_PER_OBJECT
    print(
        f"command: .venv/bin/python tests/bench/bench_events.py --rate {args.rate} --seconds {args.seconds:g} "
        f"--objects {args.objects}  (DATABASE_URL={os.environ['DATABASE_URL']})"
    )
    print(f"events created: {created:,} in {elapsed:.1f} s = {created / elapsed:,.0f}/s (asked {args.rate}/s)")
    print(f"rows upserted by the mirror: {written:,}")
    print(
        f"event table: peak {max(sizes):,} rows, final {final:,} rows; bound {bound:,} "
        f"({args.objects} objects x {settings.VITIWEB_EVENTS_PER_OBJECT} per object); "
        f"{created / max(final, 1):,.0f}x fewer rows than events"
    )
    print(f"last event visible {caught_up * 1000:,.0f} ms after the flood stopped")
    print(f"{'page':<22} {'baseline p50':>12} {'flood p50':>10} {'flood p95':>10} {'ratio p50':>10}")
    for name in pages:
        base = statistics.median(baseline[name])
        flood_p50 = statistics.median(during[name])
        print(
            f"{name:<22} {base:>10.1f}ms {flood_p50:>8.1f}ms {percentile(during[name], 0.95):>8.1f}ms "
            f"{flood_p50 / base:>9.2f}x"
        )


if __name__ == "__main__":
    main()
