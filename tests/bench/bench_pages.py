"""Server time and SQL queries of the operator pages, 50,000 machines in 10 clusters by default.

Run against PostgreSQL (its own database, vitiweb_bench_pages, is created and filled on first use,
then reused while the fleet's size stays the same):

    .venv/bin/python tests/bench/bench_pages.py
    .venv/bin/python tests/bench/bench_pages.py --clusters 100 --machines-per-cluster 5000   # 500,000

Options: ``--clusters N``, ``--machines-per-cluster N`` (the fleet's size), ``--repeat N``
(timed requests per page, default 40), ``--refill`` (drop the bench data and load it again).
The data is written with PostgreSQL's COPY (``bulk_create`` elsewhere; the sync's
per-object path is benchmarked in bench_sync); it has the shape the sync writes:
derived columns, Reference rows for every provider, instance type and image
reference (some dangling), journal entries. The overview's figures and the
findings are then derived once, as the deriving process would.

Server time is measured in-process through Django's test client (URL routing,
middleware, views, templates, database), so it excludes only the network.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/vitiweb_bench_pages"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")
os.environ.setdefault("VITIWEB_LOG_LEVEL", "WARNING")

CLUSTERS = 10
MACHINES_PER_CLUSTER = 5_000
PROVIDERS_PER_CLUSTER = 10
STACKS_PER_CLUSTER = 5
#: Provider p lives in namespace p % 5 and machine m, in namespace m % 5, runs on provider m % 10: every machine's
#: provider is in its own namespace (one in another would be a finding per machine: 400,000 at full size).
NAMESPACES = ("production", "staging", "edge", "batch", "platform")
PHASES = (
    ("Running", True, 80),
    ("Pending", None, 8),
    ("Provisioning", None, 5),
    ("Failed", False, 4),
    ("Terminating", None, 3),
)
INSTANCE_TYPES = (
    ("m5.large", "$0.096/hour", "$0.038/hour"),
    ("m5.xlarge", "$0.192/hour", "$0.076/hour"),
    ("c5.2xlarge", "$0.34/hour", "$0.13/hour"),
    ("r5.large", "$0.126/hour", "$0.05/hour"),
)
IMAGES = ("ubuntu-22.04", "amazon-linux-2", "flatcar-3510")
PROVIDER_TYPES = ("aws", "azure", "gcp", "openstack")


def create_database(url: str) -> None:
    """CREATE DATABASE when the bench database does not exist yet (PostgreSQL only)."""
    if not url.startswith("postgres"):
        return
    import psycopg

    target = url.rsplit("/", 1)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
        with psycopg.connect(f"{target[0]}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{target[1]}"')
        print(f"created database {target[1]}")


def write_rows(model, objects: list) -> None:
    """Insert ``objects``: PostgreSQL's COPY (several times faster than INSERT at 500,000 rows), else bulk_create."""
    from django.db import connection

    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=2000)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])


def clear() -> None:
    """Remove the bench data (TRUNCATE on PostgreSQL: a cascading delete of 500,000 rows takes minutes)."""
    from django.db import connection

    from vitiweb.models import Cluster, FindingsRun, OverviewRun

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute('TRUNCATE "vitiweb_cluster", "vitiweb_journalentry" CASCADE')
    else:
        Cluster.objects.filter(name__startswith="bench-").delete()
    FindingsRun.objects.all().delete()
    OverviewRun.objects.all().delete()


def populate(clusters: int, machines_per_cluster: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from machines.models import Machine
    from providers.models import KubernetesProvider, MachineProvider, NodeGroup
    from stacks.models import Vitistack
    from vitiweb.models import Cluster, JournalEntry, Reference

    rng = random.Random(7)
    started = time.monotonic()
    now = timezone.now()
    clear()
    for c in range(clusters):
        with transaction.atomic():
            cluster = Cluster.objects.create(
                name=f"bench-{c:02}",
                source=Cluster.Source.SANDBOX,
                state=Cluster.State.UNREACHABLE if c == 9 else Cluster.State.CONNECTED,
                last_sync_at=now,
                server=f"https://bench-{c:02}.example:6443",
                server_version="v1.29.2",
                last_error="timeout after 5s" if c == 9 else "",
            )
            providers = MachineProvider.objects.bulk_create(
                [
                    MachineProvider(
                        cluster=cluster,
                        kind="MachineProvider",
                        namespace=NAMESPACES[p % len(NAMESPACES)],
                        name=f"provider-{p}",
                        uid=f"mp-{c}-{p}",
                        resource_version="1",
                        provider_type=PROVIDER_TYPES[p % 4],
                        region=f"region-{p % 3}",
                        phase="Ready",
                        ready=True,
                        created_at=now,
                        spec={
                            "type": PROVIDER_TYPES[p % 4],
                            "region": f"region-{p % 3}",
                            PROVIDER_TYPES[p % 4]: {
                                "instanceTypes": [
                                    {"name": n, "vcpus": 2, "memory": "8Gi", "pricing": {"onDemand": od, "spot": sp}}
                                    for n, od, sp in INSTANCE_TYPES
                                ],
                                "machineImages": [{"name": i, "imageId": f"ami-{i}"} for i in IMAGES],
                            },
                        },
                    )
                    for p in range(PROVIDERS_PER_CLUSTER)
                ]
            )
            stacks = Vitistack.objects.bulk_create(
                [
                    Vitistack(
                        cluster=cluster,
                        kind="Vitistack",
                        namespace="production",
                        name=f"stack-{s}",
                        uid=f"vs-{c}-{s}",
                        resource_version="1",
                        region=f"region-{s % 3}",
                        role="primary" if s else "management",
                        max_machines=1200,
                        max_clusters=5,
                        max_providers=10,
                        phase="Ready",
                        ready=True,
                        created_at=now,
                        spec={
                            "region": f"region-{s % 3}",
                            "resourceQuotas": {"maxMachines": 1200},
                            "machineProviders": [
                                {"name": p.name, "namespace": p.namespace} for p in providers[2 * s : 2 * s + 2]
                            ],
                        },
                    )
                    for s in range(STACKS_PER_CLUSTER)
                ]
            )
            kubernetes = KubernetesProvider.objects.bulk_create(
                [
                    KubernetesProvider(
                        cluster=cluster,
                        kind="KubernetesProvider",
                        namespace="production",
                        name=f"k8s-{k}",
                        uid=f"kp-{c}-{k}",
                        resource_version="1",
                        provider_type="eks",
                        version="1.29",
                        region="region-0",
                        phase="Ready",
                        ready=True,
                        created_at=now,
                        spec={"type": "eks"},
                    )
                    for k in range(2)
                ]
            )
            NodeGroup.objects.bulk_create(
                [
                    NodeGroup(
                        provider=kp,
                        name=f"ng-{g}",
                        machine_provider_namespace="production",
                        machine_provider_name="provider-0",
                        instance_type="m5.large",
                        capacity_type="ON_DEMAND",
                        min_size=1,
                        max_size=10,
                        desired_size=3,
                    )
                    for kp in kubernetes
                    for g in range(2)
                ]
            )
            refs = [
                Reference(
                    source_kind="Vitistack",
                    source_id=stack.pk,
                    source_cluster=cluster,
                    relation="machine-provider",
                    path=f"spec.machineProviders[{i}]",
                    target_kind="MachineProvider",
                    target_namespace=providers[2 * s + i].namespace,
                    target_name=providers[2 * s + i].name,
                    target_id=providers[2 * s + i].pk,
                    target_cluster=cluster,
                    state=Reference.State.RESOLVED,
                )
                for s, stack in enumerate(stacks)
                for i in range(2)
            ]
            refs += [
                Reference(
                    source_kind="Vitistack",
                    source_id=stacks[0].pk,
                    source_cluster=cluster,
                    relation="kubernetes-provider",
                    path=f"spec.kubernetesProviders[{k}]",
                    target_kind="KubernetesProvider",
                    target_namespace="production",
                    target_name=kp.name,
                    target_id=kp.pk,
                    target_cluster=cluster,
                    state=Reference.State.RESOLVED,
                )
                for k, kp in enumerate(kubernetes)
            ]
            Reference.objects.bulk_create(refs)

            rows = []
            weights = [w for _, _, w in PHASES]
            for m in range(machines_per_cluster):
                phase, ready, _ = rng.choices(PHASES, weights)[0]
                provider = providers[m % PROVIDERS_PER_CLUSTER]
                instance = INSTANCE_TYPES[m % len(INSTANCE_TYPES)][0]
                image = IMAGES[m % len(IMAGES)]
                namespace = NAMESPACES[m % len(NAMESPACES)]
                rows.append(
                    Machine(
                        cluster=cluster,
                        kind="Machine",
                        namespace=namespace,
                        name=f"worker-{c:02}-{m:05}",
                        uid=f"m-{c}-{m}",
                        resource_version="1",
                        provider_name=provider.name,
                        provider_namespace=provider.namespace,
                        instance_type=instance,
                        machine_image=image,
                        phase=phase,
                        ready=ready,
                        message="instance quota exceeded" if phase == "Failed" else "",
                        labels={
                            "vitistack.io/environment": "production" if m % 3 else "staging",
                            "role": "worker",
                            "vitistack.io/team": f"team-{m % 7}",
                        },
                        spec={
                            "machineProvider": {"name": provider.name, "namespace": provider.namespace},
                            "instanceType": instance,
                            "machineImage": image,
                            "networking": {"subnet": "subnet-1"},
                        },
                        status={
                            "phase": phase,
                            "conditions": [
                                {"type": "Ready", "status": {True: "True", False: "False"}.get(ready, "Unknown")}
                            ],
                        },
                        created_at=now - timezone.timedelta(minutes=m),
                    )
                )
            write_rows(Machine, rows)
            machines = list(Machine.objects.filter(cluster=cluster).order_by("name"))
            refs = []
            for machine in machines:
                provider = providers[int(machine.name[-5:]) % PROVIDERS_PER_CLUSTER]
                common = dict(
                    source_kind="Machine",
                    source_id=machine.pk,
                    source_cluster=cluster,
                    target_kind="MachineProvider",
                    target_namespace=provider.namespace,
                    target_name=provider.name,
                    target_id=provider.pk,
                    target_cluster=cluster,
                    state=Reference.State.RESOLVED,
                )
                refs.append(Reference(relation="machine-provider", path="spec.machineProvider", **common))
                refs.append(
                    Reference(
                        relation="instance-type",
                        path="spec.instanceType",
                        target_entry=machine.instance_type,
                        attributes={"entry": "instance type"},
                        **common,
                    )
                )
                dangling = int(machine.name[-5:]) % 500 == 0
                refs.append(
                    Reference(
                        relation="machine-image",
                        path="spec.machineImage",
                        target_entry=machine.machine_image,
                        attributes={"entry": "machine image"},
                        **{
                            **common,
                            "state": Reference.State.DANGLING if dangling else Reference.State.RESOLVED,
                            "target_id": None if dangling else provider.pk,
                        },
                        detail="machine image not declared by the provider" if dangling else "",
                    )
                )
            write_rows(Reference, refs)
            write_rows(
                JournalEntry,
                [
                    JournalEntry(
                        cluster=cluster,
                        kind="Machine",
                        namespace=machine.namespace,
                        name=machine.name,
                        uid=machine.uid,
                        action=JournalEntry.Action.UPDATED,
                        resource_version=str(v),
                        changed_by="machine-controller",
                        changes=[{"path": "status.phase", "old": "Pending", "new": machine.phase}],
                    )
                    for machine in machines[:200]
                    for v in range(3)
                ],
            )
            print(f"  cluster bench-{c:02}: {len(machines)} machines ({time.monotonic() - started:.1f}s)", flush=True)
    from django.db import connection

    if connection.vendor == "postgresql":
        # As autovacuum would after a bulk load: statistics, and the visibility map index-only scans need.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"populated in {time.monotonic() - started:.1f}s")
    from vitiweb.derive import derive

    started = time.monotonic()
    derive()
    print(
        f"findings and overview derived (off the request path, as the deriving process does) in "
        f"{time.monotonic() - started:.1f}s"
    )


def measure(client, url: str, repeat: int) -> dict:
    from django.db import connection

    for _ in range(3):  # warm-up: caches, connection, query plans
        assert client.get(url).status_code == 200, url
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    timings.sort()
    return {
        "p50": statistics.median(timings),
        "p95": timings[max(0, int(round(0.95 * len(timings))) - 1)],
        "max": timings[-1],
        "queries": len(queries),
        "bytes": len(response.content),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=CLUSTERS)
    parser.add_argument("--machines-per-cluster", type=int, default=MACHINES_PER_CLUSTER)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--refill", action="store_true")
    args = parser.parse_args()
    if args.clusters < 10 or args.machines_per_cluster < 500:
        parser.error("the pages read cluster bench-09 and machine worker-03-00042: at least 10 clusters x 500 machines")

    url = os.environ["DATABASE_URL"]
    create_database(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from machines.models import Machine
    from providers.models import MachineProvider
    from tests.factories import ensure_roles
    from vitiweb.roles import VIEWER

    call_command("migrate", verbosity=0)
    from vitiweb.models import Cluster

    size = args.clusters * args.machines_per_cluster
    if (
        args.refill
        or Cluster.objects.filter(name__startswith="bench-").count() != args.clusters
        or Machine.objects.filter(cluster__name__startswith="bench-").count() != size
    ):
        print(f"loading {size} machines in {args.clusters} clusters ...")
        populate(args.clusters, args.machines_per_cluster)

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    ensure_roles()
    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    user.groups.set([Group.objects.get(name=VIEWER)])
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    machine = Machine.objects.get(name="worker-03-00042")
    provider = MachineProvider.objects.get(cluster__name="bench-03", name="provider-2")
    cluster = Cluster.objects.get(name="bench-03")
    pages = {
        "overview": "/",
        "machine list, filtered": "/machines/?cluster=bench-03&phase=Running&label=vitistack.io/environment%3Dproduction",
        "machine list, search by name": "/machines/?q=worker-03-0004",
        "machine list, label selector, sorted by age, page 3": "/machines/?label=role%3Dworker&sort=age&page=3",
        "machine list, htmx fragment": "/machines/?region=region-1&ready=false",
        "machine list, unfiltered": "/machines/",
        "machine provider list": "/machineproviders/",
        "vitistack list": "/vitistacks/",
        "search, every kind": "/search/?q=worker-03-0004",
        "machine detail": f"/machines/{machine.pk}/",
        "machine provider detail (500 machines refer to it)": f"/machineproviders/{provider.pk}/",
        "cluster page": f"/clusters/{cluster.pk}/",
        "cluster list": "/clusters/",
    }
    print(
        f"\n{Machine.objects.count()} machines, database {django.db.connection.vendor} "
        f"({django.db.connection.settings_dict['NAME']}), {args.repeat} timed requests per page\n"
    )
    print(f"{'page':55} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}")
    worst = 0.0
    for name, page in pages.items():
        if "htmx" in name:
            client.defaults.update({"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "results"})
        result = measure(client, page, args.repeat)
        client.defaults.pop("HTTP_HX_REQUEST", None)
        client.defaults.pop("HTTP_HX_TARGET", None)
        worst = max(worst, result["p95"])
        print(f"{name:55} {result['p50']:8.1f} {result['p95']:8.1f} {result['max']:8.1f} {result['queries']:8}")
    print(
        f"\ncommand: DATABASE_URL={url} .venv/bin/python tests/bench/bench_pages.py --clusters {args.clusters} "
        f"--machines-per-cluster {args.machines_per_cluster} --repeat {args.repeat}"
    )
    print(f"worst p95: {worst:.1f} ms (aim: under 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
