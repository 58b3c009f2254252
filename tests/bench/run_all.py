"""Run every benchmark in tests/bench/, one after the other, each on a PostgreSQL database of its own.

    .venv/bin/python tests/bench/run_all.py [--only sync,pages] [--skip live] [--server URL]

``make bench`` runs it (``make bench BENCH_ARGS="--only startup"``). A benchmark is a file
``bench_<name>.py``; it runs as ``python tests/bench/bench_<name>.py`` from the repository root with
``DATABASE_URL`` set to the database ``vitiweb_bench_<name>`` (``--database-prefix`` changes the
``vitiweb_bench_`` part), which is dropped and created empty first, so that no run inherits another's
data (each benchmark migrates and fills its database itself). Benchmarks that need no database are given
one all the same. Other settings (``REDIS_URL``...) pass through from the environment.

Each benchmark's figures are printed as it runs, then a summary; the exit status is 1 when any
benchmark failed (all of them are run all the same).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent


def available() -> dict[str, Path]:
    return {path.stem.removeprefix("bench_"): path for path in sorted(BENCH_DIR.glob("bench_*.py"))}


def names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def selected(benches: dict[str, Path], only: list[str], skip: list[str]) -> list[str]:
    unknown = sorted(set(only + skip) - set(benches))
    if unknown:
        raise SystemExit(f"no such benchmark: {', '.join(unknown)} (there are: {', '.join(benches)})")
    return [name for name in benches if (not only or name in only) and name not in skip]


def recreate_database(server: str, name: str) -> None:
    """Drop ``name`` if it exists and create it empty (fails while another session uses it)."""
    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=10) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def run(name: str, path: Path, database_url: str) -> int:
    environment = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    print(f"\n=== {name}: DATABASE_URL={database_url} {sys.executable} {path.relative_to(ROOT)}", flush=True)
    return subprocess.run([sys.executable, str(path)], cwd=ROOT, env=environment).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=names, default=[], help="comma-separated benchmark names (sync,pages...)")
    parser.add_argument("--skip", type=names, default=[], help="comma-separated benchmark names to leave out")
    parser.add_argument(
        "--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL, without a database"
    )
    parser.add_argument("--database-prefix", default="vitiweb_bench_")
    args = parser.parse_args()

    benches = available()
    results = []
    for name in selected(benches, args.only, args.skip):
        database = f"{args.database_prefix}{name}"
        started = time.monotonic()
        try:
            recreate_database(args.server.rstrip("/"), database)
        except psycopg.Error as exc:
            print(f"\n=== {name}: cannot recreate database {database}: {exc}", file=sys.stderr, flush=True)
            returncode = -1
        else:
            returncode = run(name, benches[name], f"{args.server.rstrip('/')}/{database}")
        results.append((name, returncode, time.monotonic() - started))

    print("\n=== summary")
    for name, returncode, seconds in results:
        outcome = "ok" if returncode == 0 else ("no database" if returncode == -1 else f"FAILED (exit {returncode})")
        print(f"  {name:<20} {outcome:<20} {seconds:8.1f} s")
    command = " ".join(["tests/bench/run_all.py", *sys.argv[1:]])
    print(f"command: .venv/bin/python {command}")
    return 1 if any(returncode != 0 for _, returncode, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
