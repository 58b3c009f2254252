"""Benchmark of live updates (issue 6), on PostgreSQL and Redis.

    .venv/bin/python tests/bench/bench_live.py      # DATABASE_URL defaults to .../vitiweb_bench_live

A sandbox cluster (2,000 machines) synced by a `manage.py sync` process, the
dashboard served by a separate ASGI process (`manage.py runserver --noreload`,
Daphne), both on PostgreSQL and Redis. 200 websocket clients (``--clients``) follow the fleet
overview while the sandbox makes 200 machine status changes per second.

Latency of a change: from its write in the sandbox to the first message a
client receives whose regions were read from the database after the change
was committed (the consumer stamps each message with that read time,
``data-as-of``; the commit time is the change's journal row). Prints p50/p99
(aim: p99 < 500 ms) and messages sent per client per second.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vitiweb_bench_live")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")

AS_OF = re.compile(r'data-as-of="([0-9.]+)"')


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def client(url, cookie, origin, received, stop):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers={"Cookie": cookie, "Origin": origin}, max_msg_size=0) as ws:
            while not stop.is_set():
                try:
                    message = await ws.receive(timeout=0.5)
                except TimeoutError:
                    continue
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                match = AS_OF.search(message.data)
                received.append((time.time(), float(match.group(1)) if match else None))


def run_clients(count, url, cookie, origin, stop, results):
    async def main():
        await asyncio.gather(*(client(url, cookie, origin, results[i], stop) for i in range(count)))

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--machines", type=int, default=2000)
    args = parser.parse_args()

    from tests.bench.bench_sync import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connection

    from vitiweb.kinds import KINDS, model_for
    from vitiweb.models import Cluster, JournalEntry
    from vitiweb.sandbox import Sandbox
    from vitiweb.sync.clusters import register_cluster

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        for kind in KINDS:
            cursor.execute(f'TRUNCATE "{model_for(kind)._meta.db_table}" CASCADE')
        cursor.execute(
            'TRUNCATE "vitiweb_journalentry", "vitiweb_reference", "vitiweb_knownsecret", "vitiweb_syncworker"'
        )
    Cluster.objects.all().delete()

    sandbox = Sandbox(warn=lambda m: None)
    sandbox.populate(vitistacks=20, machine_providers=30, kubernetes_providers=10, machines=args.machines)
    sandbox.start()
    register_cluster("bench", kubeconfig_path=str(sandbox.write_kubeconfig(ROOT / "var" / "bench-live.kubeconfig")))
    User = get_user_model()
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", password="bench-pw-12345"
    )
    session = SessionStore()
    session["_auth_user_id"], session["_auth_user_backend"] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()

    port = 8765
    env = {**os.environ, "DEBUG": "1", "VITIWEB_LOG_LEVEL": "WARNING"}
    processes = [
        subprocess.Popen([sys.executable, "manage.py", "sync", "--tick-seconds", "1"], cwd=ROOT, env=env),
        subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    Machine = model_for("Machine")
    try:
        while Machine.objects.count() < args.machines:
            time.sleep(0.5)
        time.sleep(2)
        stop = threading.Event()
        received = [[] for _ in range(args.clients)]
        url = f"ws://127.0.0.1:{port}/ws/live/?page=/"
        clients = threading.Thread(
            target=run_clients,
            args=(args.clients, url, f"sessionid={session.session_key}", f"http://127.0.0.1:{port}", stop, received),
            daemon=True,
        )
        clients.start()
        time.sleep(3)  # connected, initial regions received
        connected = sum(1 for r in received if r)
        JournalEntry.objects.all().delete()

        machines = sandbox.store.list("vitistack.io/v1alpha1", "Machine")[:1000]
        phases = ["Running", "Provisioning", "Failed", "Pending"]
        sent = {}
        interval, count = 1.0 / args.rate, int(args.rate * args.seconds)
        begin_wall, begin = time.time(), time.perf_counter()
        for index in range(count):
            obj = machines[index % len(machines)]
            current = sandbox.store.get(
                "vitistack.io/v1alpha1", "Machine", obj["metadata"]["name"], obj["metadata"]["namespace"]
            )
            message = f"bench {index}"
            current["status"] = {"phase": phases[index % len(phases)], "message": message}
            sent[message] = time.time()
            sandbox.store.update_status(current)
            delay = begin + (index + 1) * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        duration = time.perf_counter() - begin
        time.sleep(3)
        stop.set()
        clients.join(10)

        commits = {}
        for changes, recorded in JournalEntry.objects.values_list("changes", "recorded_at"):
            for change in changes:
                if change["path"] == "status.message" and change["new"] in sent:
                    commits[change["new"]] = recorded.timestamp()
        latencies, per_client_rates = [], []
        for messages in received:
            window = [(at, as_of) for at, as_of in messages if at >= begin_wall and as_of is not None]
            per_client_rates.append(len([m for m in messages if m[0] >= begin_wall]) / (duration + 3))
            as_ofs = [as_of for _, as_of in window]
            for name, committed in commits.items():
                # The first message read after the commit shows it.
                index = bisect.bisect_left(as_ofs, committed)
                if index < len(window):
                    latencies.append((window[index][0] - sent[name]) * 1000)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        sandbox.stop()

    print()
    print(
        f"command: DATABASE_URL={os.environ['DATABASE_URL']} REDIS_URL={os.environ['REDIS_URL']} "
        f".venv/bin/python tests/bench/bench_live.py --clients {args.clients} --rate {args.rate} "
        f"--seconds {args.seconds:g} --machines {args.machines}"
    )
    print(
        f"{connected} of {args.clients} clients connected to the fleet overview; "
        f"{count} status changes in {duration:.1f}s ({count / duration:.0f}/s); {len(commits)} committed"
    )
    print(
        f"change -> fragment received: p50 {statistics.median(latencies):.0f} ms, "
        f"p99 {percentile(latencies, 99):.0f} ms over {len(latencies)} (change, client) pairs  (aim p99 < 500 ms)"
    )
    print(
        f"messages per client per second: mean {statistics.mean(per_client_rates):.1f}, "
        f"max {max(per_client_rates):.1f}  (one per coalescing window at most: {1 / 0.25:.0f}/s)"
    )


if __name__ == "__main__":
    main()
