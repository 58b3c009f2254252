"""Benchmark of the sandbox cluster: big lists and watch fan-out.

    python tests/bench/bench_sandbox.py [--objects 10000] [--watchers 20] [--changes 2000]

1. Time to serve a list of 10,000 Machines over HTTP (median of several runs),
   next to the time `json.loads` takes on the same payload in the same run: the
   ratio says how close serving comes to the cost of merely decoding the answer.
2. Watch events delivered per second to 20 concurrent watchers: the watchers
   run in a separate process (so they do not share the server's interpreter),
   each counting the events of a burst of changes made through the store.
"""

from __future__ import annotations

import argparse
import gc
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vitiweb.sandbox import Sandbox  # noqa: E402

GV = "vitistack.io/v1alpha1"

WATCHERS = r"""
import asyncio, sys, time
import aiohttp

url, count, expected = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

async def watch(session, ready, done_at):
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
        ready.append(1)
        if len(ready) == count:
            print("ready", flush=True)
        seen = 0
        buffer = b""
        async for chunk in resp.content.iter_any():
            seen += chunk.count(b"\n")
            if seen >= expected:
                done_at.append(time.time())
                return

async def main():
    ready, done_at = [], []
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(watch(session, ready, done_at) for _ in range(count)))
    print(f"done {max(done_at)}", flush=True)

asyncio.run(main())
"""


def bench_list(sb: Sandbox, runs: int) -> tuple[float, float, float, int]:
    url = sb.url + "/apis/vitistack.io/v1alpha1/machines"
    session = requests.Session()
    started = time.perf_counter()
    # The first list encodes every object; later ones reuse the encoded bytes, as a running server does.
    session.get(url).raise_for_status()
    cold = time.perf_counter() - started
    serve_times, decode_times = [], []
    payload = b""
    for _ in range(runs):
        started = time.perf_counter()
        resp = session.get(url)
        payload = resp.content
        serve_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        json.loads(payload)
        decode_times.append(time.perf_counter() - started)
    return cold, statistics.median(serve_times), statistics.median(decode_times), len(payload)


def bench_watch(sb: Sandbox, watchers: int, changes: int) -> tuple[float, float]:
    rv = sb.store.resource_version
    url = sb.url + f"/apis/vitistack.io/v1alpha1/namespaces/bench/machines?watch=1&resourceVersion={rv}"
    proc = subprocess.Popen(
        [sys.executable, "-c", WATCHERS, url, str(watchers), str(changes)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while len(sb.server.streams) < watchers and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.time()
        for i in range(changes):
            sb.store.patch(GV, "Machine", f"w-{i % 100:03d}", {"metadata": {"labels": {"n": str(i)}}}, "bench")
        writes_done = time.time()
        line = proc.stdout.readline().split()
        assert line and line[0] == "done", line
        finished = float(line[1])
    finally:
        proc.wait(30)
    return (watchers * changes) / (finished - started), writes_done - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--watchers", type=int, default=20)
    parser.add_argument("--changes", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))

    with Sandbox(warn=lambda _: None, history_size=args.changes + 1000) as sb:
        populated = sb.populate(vitistacks=0, machine_providers=0, kubernetes_providers=0, machines=args.objects)
        print(f"populated {args.objects} Machines in {populated['seconds']:.2f}s")
        # The stored objects are long-lived: keep the collector from re-scanning them in
        # every measurement below (it would slow json.loads most).
        gc.freeze()

        cold, serve, decode, size = bench_list(sb, args.runs)
        print(
            f"list of {args.objects} objects ({size / 1e6:.1f} MB): served in {serve * 1000:.1f} ms "
            f"(median of {args.runs}; first list {cold * 1000:.0f} ms), json.loads of the same payload "
            f"{decode * 1000:.1f} ms; ratio serve/decode = {serve / decode:.2f}"
        )

        sb.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        for i in range(100):
            sb.store.create(
                {
                    "apiVersion": GV,
                    "kind": "Machine",
                    "metadata": {"name": f"w-{i:03d}", "namespace": "bench"},
                    "spec": {"machineProvider": {"name": "p"}},
                }
            )
        rate, write_time = bench_watch(sb, args.watchers, args.changes)
        print(
            f"watch: {args.changes} changes x {args.watchers} watchers delivered at {rate:,.0f} events/s "
            f"(the {args.changes} writes themselves took {write_time:.2f}s)"
        )


if __name__ == "__main__":
    main()
