"""Benchmark: topology views and integrity checks at fleet scale.

500 Vitistacks (a global one, 9 regional, 400 children, 10 edge managers with 80
edge locations; 100 DR pairs across clusters), 2,000 providers (1,500 machine
providers in failover chains of three, some shared; 500 Kubernetes providers
with two node groups each) and 50,000 machines in ten clusters (500,000 with
``--machines-per-stack 1000``), written through the sync's own path (``apply_snapshot``). Measures, on the server:
the time to build each view's figure (graph, layout, Plotly JSON) and the full
page, the size of the figure sent to the browser, and the time of all checks.

Run (PostgreSQL; its database, vitiweb_bench_topology by default, is created and migrated here):

    .venv/bin/python tests/bench/bench_topology.py
    .venv/bin/python tests/bench/bench_topology.py --machines-per-stack 1000   # 500,000 machines

The fleet is generated once and reused while its size stays the same (``--reload`` rebuilds it).
Aims: each view under 500 ms; all checks (off the request path) under 2 s at 50,000 machines,
under 5 s at 500,000.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
# Its own database by default, so it neither touches the development SQLite file nor races other benchmarks.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vitiweb_bench_topology")
from tests.bench.bench_sync import ensure_database  # noqa: E402

ensure_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)

from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from vitiweb.fleet import Fleet  # noqa: E402
from vitiweb.integrity import current_findings, run_checks, store_findings  # noqa: E402
from vitiweb.models import Cluster  # noqa: E402
from vitiweb.sync.mirror import apply_snapshot, replace_known_secrets  # noqa: E402
from vitiweb.topology.builders import Options  # noqa: E402
from vitiweb.topology.views import make_figure  # noqa: E402

CLUSTERS = 10
STACKS = 500
MACHINES_PER_STACK = 100  # the default; --machines-per-stack
PREFIX = "bench-topology"
PHASES = [("Running", "True")] * 8 + [("Provisioning", None), ("Failed", "False")]


def obj(kind, name, namespace, spec, phase=None, ready=None, uid=""):
    status = {}
    if phase:
        status["phase"] = phase
    if ready:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    return {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"{kind}-{namespace}-{name}",
            "resourceVersion": "1",
        },
        "spec": spec,
        "status": status,
    }


def generate():
    """(cluster index -> kind -> objects), and the Secrets each cluster holds."""
    fleet = {
        c: {"Vitistack": [], "MachineProvider": [], "KubernetesProvider": [], "Machine": []} for c in range(CLUSTERS)
    }
    names = [f"stack-{i:03d}" for i in range(STACKS)]
    cluster_of = {i: i % CLUSTERS for i in range(STACKS)}
    parent = {}
    for i in range(1, 10):
        parent[i] = 0
    for i in range(10, 410):
        parent[i] = 1 + (i % 9)
    children = {}
    for child, p in parent.items():
        children.setdefault(p, []).append(child)
    central = {i: list(range(420 + (i - 410) * 8, 420 + (i - 410) * 8 + 8)) for i in range(410, 420)}
    management_of = {edge: c for c, edges in central.items() for edge in edges}
    dr = {i: i + 100 for i in range(10, 110)}  # primaries 10..109 -> secondaries 110..209
    primary_of = {s: p for p, s in dr.items()}

    for i, name in enumerate(names):
        ns = "production"
        spec = {
            "region": f"region-{i % 7}",
            "description": f"Stack {i}",
            "resourceQuotas": {
                "maxMachines": 90 if i % 50 == 0 else (120 if i >= 420 else 150),
                "maxClusters": 3,
                "maxProviders": 10,
            },
            "machineProviders": [{"name": f"{name}-mp-{k}", "priority": k + 1} for k in range(3)],
            "kubernetesProviders": [{"name": f"{name}-kp", "priority": 1}],
        }
        if i % 97 == 0:
            spec["machineProviders"].append({"name": f"{name}-never-defined", "priority": 9})
        if i == 0:
            spec["role"] = "global"
            spec["globalPolicies"] = {
                "security": {"enforceEncryption": True, "requireMFA": True},
                "compliance": {"frameworks": ["SOC2", "GDPR"]},
                "resourceLimits": {"globalMaxMachines": 100000, "globalMaxClusters": 2000},
            }
        if i in children:
            spec["childVitistacks"] = [{"name": names[c], "namespace": ns} for c in children[i]]
            if i:
                spec["role"] = "regional"
                spec["globalPolicies"] = {"resourceLimits": {"globalMaxMachines": 8000 if i != 3 else 4000}}
        if i in parent:
            spec["parentVitistack"] = {"name": names[parent[i]], "namespace": ns}
            spec["inheritPolicies"] = True
        if i in dr:
            spec["disasterRecovery"] = {
                "enabled": True,
                "replicationTargets": [
                    {
                        "name": names[dr[i]],
                        "namespace": ns,
                        "region": f"region-{dr[i] % 7}",
                        "provider": "aws",
                        "replicationMode": "async" if i % 3 else "sync",
                        "rpo": "1h",
                        "rto": "30m",
                    }
                ],
            }
        if i in primary_of and i % 10:
            spec["role"] = "disaster-recovery"
            spec["primaryVitistack"] = {"name": names[primary_of[i]], "namespace": ns}
        if i in central:
            spec["role"] = "management"
            spec["edgeManagement"] = {
                "enabled": True,
                "edgeLocations": [
                    {"name": names[e], "namespace": ns, "region": f"edge-{e}", "maxMachines": 120, "maxClusters": 2}
                    for e in central[i]
                ],
            }
        if i in management_of:
            spec["role"] = "edge"
            spec["managementVitistack"] = {"name": names[management_of[i]], "namespace": ns}
            spec["edge"] = {
                "connectivity": {
                    "type": ["satellite", "fiber", "lte"][i % 3],
                    "bandwidth": "100Mbps",
                    "latency": f"{20 + i % 500}ms",
                },
                "autonomy": {"enabled": True, "offlineTimeout": "1h", "localDecisionMaking": True},
            }
        phase, ready = ("Ready", "True") if i % 23 else ("Degraded", "False")
        c = cluster_of[i]
        fleet[c]["Vitistack"].append(obj("Vitistack", name, ns, spec, phase, ready))

        for k in range(3):
            mp_name = f"{name}-mp-{k}"
            mp_spec = {
                "type": "aws",
                "region": spec["region"],
                "aws": {
                    "credentials": {
                        "secretRef": {"name": "aws-credentials" if i % 61 else "rotated-away", "namespace": ns}
                    },
                    "instanceTypes": [{"name": "m5.large"}, {"name": "m5.xlarge"}],
                    "machineImages": [{"name": "ubuntu-22.04"}],
                    "networking": {"subnets": ["subnet-a", "subnet-b"], "securityGroups": [{"name": "nodes"}]},
                },
            }
            if k < 2:
                mp_spec["failover"] = {
                    "enabled": True,
                    "targets": [
                        {
                            "name": f"{name}-mp-{k + 1}",
                            "namespace": ns,
                            "priority": k + 2,
                            "conditions": [{"type": "ProviderHealthy", "status": "False"}],
                        }
                    ],
                }
            if k == 2 and i % 5 == 0:
                mp_spec["shareWith"] = [
                    {"vitistack": names[(i + 1) % STACKS], "namespace": ns},
                    {"vitistack": names[(i + 2) % STACKS], "namespace": ns},
                ]
            fleet[c]["MachineProvider"].append(
                obj(
                    "MachineProvider",
                    mp_name,
                    ns,
                    mp_spec,
                    "Ready" if (i + k) % 31 else "Degraded",
                    "True" if (i + k) % 31 else "False",
                )
            )
        kp_spec = {
            "type": "eks",
            "version": "1.29",
            "region": spec["region"],
            "eks": {
                "credentials": {"secretRef": {"name": "aws-credentials", "namespace": ns}},
                "nodeGroups": [
                    {
                        "name": group,
                        "machineProvider": {"name": f"{name}-mp-0", "namespace": ns},
                        "instanceType": "m5.large",
                        "capacityType": "ON_DEMAND",
                        "subnets": ["subnet-a"],
                        "scaling": {"minSize": 1, "maxSize": 5, "desiredSize": 2},
                    }
                    for group in ("system", "workers")
                ],
            },
        }
        fleet[c]["KubernetesProvider"].append(obj("KubernetesProvider", f"{name}-kp", ns, kp_spec, "Ready", "True"))

    return fleet


def machines(cluster: int, per_stack: int):
    """The Machines of one cluster, generated when that cluster is loaded (500,000 at once would not fit)."""
    ns = "production"
    for i in range(cluster, STACKS, CLUSTERS):
        name = f"stack-{i:03d}"
        for m in range(per_stack):
            phase, ready = PHASES[(i + m) % len(PHASES)]
            yield obj(
                "Machine",
                f"{name}-m{m:03d}",
                ns,
                {
                    "machineProvider": {"name": f"{name}-mp-{m % 3}", "namespace": ns},
                    "instanceType": "t3.micro" if m == 99 and i % 4 == 0 else "m5.large",
                    "machineImage": "ubuntu-22.04",
                    "networking": {"subnet": "subnet-a", "securityGroups": ["nodes"]},
                },
                phase,
                ready,
            )


def load(reload: bool, per_stack: int) -> None:
    clusters = Cluster.objects.filter(name__startswith=PREFIX)
    from machines.models import Machine

    if (
        not reload
        and clusters.count() == CLUSTERS
        and Machine.objects.filter(cluster__in=clusters).count() == STACKS * per_stack
    ):
        print("fleet already loaded (use --reload to rebuild)")
        return
    if connection.vendor == "postgresql":
        # The bench's own database: a cascading delete of 500,000 rows takes minutes.
        with connection.cursor() as cursor:
            cursor.execute('TRUNCATE "vitiweb_cluster", "vitiweb_journalentry" CASCADE')
    clusters.delete()
    started = time.perf_counter()
    data = generate()
    for c in range(CLUSTERS):
        cluster = Cluster.objects.create(name=f"{PREFIX}-{c}", source=Cluster.Source.KUBECONFIG)
        for kind in ("Vitistack", "MachineProvider", "KubernetesProvider"):
            apply_snapshot(cluster, kind, data[c][kind], changed_by="bench")
        apply_snapshot(cluster, "Machine", list(machines(c, per_stack)), changed_by="bench")
        replace_known_secrets(cluster, {("production", "aws-credentials")})
        print(f"  loaded cluster {c + 1}/{CLUSTERS} ({time.perf_counter() - started:.0f}s)", flush=True)


def timed(function, repeat=5):
    results, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = function()
        results.append((time.perf_counter() - started) * 1000)
    return statistics.median(results), min(results), value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--machines-per-stack", type=int, default=MACHINES_PER_STACK)
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args()
    print(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}")
    load(args.reload, args.machines_per_stack)
    from machines.models import Machine
    from providers.models import KubernetesProvider, MachineProvider
    from stacks.models import Vitistack
    from vitiweb.models import Reference

    print(
        f"fleet: {Vitistack.objects.count()} Vitistacks, {MachineProvider.objects.count()} machine providers, "
        f"{KubernetesProvider.objects.count()} Kubernetes providers, {Machine.objects.count()} machines, "
        f"{Reference.objects.count()} references, {Cluster.objects.count()} clusters"
    )

    cache.clear()
    median, best, findings = timed(run_checks, repeat=3)
    print(f"\nall integrity checks: median {median:.0f} ms (best {best:.0f} ms), {len(findings)} findings")
    by_check = {}
    for finding in findings:
        by_check[finding.check] = by_check.get(finding.check, 0) + 1
    print("  " + ", ".join(f"{check} {count}" for check, count in sorted(by_check.items())))
    store_ms, _, _ = timed(lambda: store_findings(), repeat=1)
    print(f"findings stored (fingerprint, checks, write): {store_ms:.0f} ms")
    lookup_ms, _, _ = timed(lambda: current_findings(), repeat=5)
    print(f"stored findings as a page reads them (latest run id; decoded once per process): median {lookup_ms:.1f} ms")

    stacks = Fleet().stacks
    regional = next(s.id for s in stacks.values() if s.name == "stack-001")
    provider = next(p.id for p in Fleet().machine_providers.values() if p.name == "stack-001-mp-0")
    cases = [
        ("hierarchy", Options()),
        ("hierarchy (one group expanded)", None),
        ("dr", Options()),
        ("edge", Options()),
        (f"composition (a stack, {args.machines_per_stack} machines)", Options(stack=regional)),
        ("failover", Options()),
        ("sharing", Options()),
        (
            "blast-radius (global stack)",
            Options(kind="Vitistack", pk=next(s.id for s in stacks.values() if s.name == "stack-000")),
        ),
        ("blast-radius (machine provider)", Options(kind="MachineProvider", pk=provider)),
    ]
    print("\nview                                   build median   best    nodes  edges   JSON      gzip")
    user, _ = User.objects.get_or_create(username="bench-topology", defaults={"is_superuser": True})
    user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    group_key = None
    for label, options in cases:
        view = label.split(" ")[0]
        if options is None:
            options = Options(expanded={group_key} if group_key else set())
        median, best, (picture, figure) = timed(lambda view=view, options=options: make_figure(view, options))
        if view == "hierarchy" and group_key is None:
            group_key = next((n.expand for n in picture.graph.nodes.values() if n.count > 1), None)
        body = json.dumps(figure, separators=(",", ":")).encode()
        print(
            f"{label:38} {median:8.0f} ms {best:6.0f} ms {figure['meta']['nodes']:6} {figure['meta']['edges']:6} "
            f"{len(body) / 1024:7.1f} KB {len(gzip.compress(body)) / 1024:6.1f} KB"
        )
    print("\nfull HTTP requests (page with embedded figure, and figure.json), findings stored:")
    for path in (
        "/topology/hierarchy/",
        "/topology/hierarchy/figure.json",
        "/topology/dr/figure.json",
        "/topology/edge/figure.json",
        f"/topology/composition/figure.json?stack={regional}",
        "/topology/failover/figure.json",
        "/topology/sharing/figure.json",
        f"/topology/blast-radius/figure.json?kind=MachineProvider&pk={provider}",
        "/topology/findings/",
        f"/topology/panel/Vitistack/{regional}/",
    ):
        median, best, response = timed(lambda path=path: client.get(path))
        print(f"  {path:60} {response.status_code} median {median:6.0f} ms  {len(response.content) / 1024:8.1f} KB")
    print(
        "\ncommand: DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitiweb_bench_topology .venv/bin/python "
        f"tests/bench/bench_topology.py --machines-per-stack {args.machines_per_stack}"
    )


if __name__ == "__main__":
    main()
