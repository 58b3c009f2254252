"""Benchmark: how long management commands take to start (issue 15; aim: each < 0.5 s).

    .venv/bin/python tests/bench/bench_startup.py [--runs 10]

Times, as wall time of a fresh process each, ``manage.py sync --help`` (settings, the app registry,
the command's module and its parser) and ``manage.py check`` (the system checks, which import the
URLconf, hence every view module, and the admin), next to two baselines measured in the same run:
``python -c pass`` (the interpreter alone) and ``import django; django.setup()`` with the project's
settings (what every command pays before it runs). The commands are run in turns, one run of each
per round, so that a change in the machine's load weighs on all of them alike. Prints the best and
the median of ``--runs`` rounds, each against the ``django.setup()`` baseline.

No database is touched (``check`` runs no database checks); DATABASE_URL is passed through as given.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AIM_SECONDS = 0.5

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "django.setup()": [sys.executable, "-c", "import django; django.setup()"],
    "manage.py sync --help": [sys.executable, "manage.py", "sync", "--help"],
    "manage.py check": [sys.executable, "manage.py", "check"],
}
BASELINE = "django.setup()"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``command``."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({finished.returncode}):\n{finished.stderr}")
    return elapsed, _children_cpu() - cpu_before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="rounds (one run of every command per round)")
    args = parser.parse_args()

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vitiweb.settings", "PYTHONPATH": str(ROOT)}
    for command in COMMANDS.values():  # warm the file cache and the bytecode before timing anything
        timed_run(command, env)
    wall = {name: [] for name in COMMANDS}
    cpu = {name: [] for name in COMMANDS}
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            elapsed, cpu_seconds = timed_run(command, env)
            wall[name].append(elapsed)
            cpu[name].append(cpu_seconds)
    load_after = os.getloadavg()[0]

    best_baseline = min(wall[BASELINE])
    median_baseline = statistics.median(wall[BASELINE])
    print(f"Start-up time, {args.runs} rounds (load average {load_before:.1f} before, {load_after:.1f} after):")
    print(
        f"  {'command':<24} {'best s':>7} {'median s':>9} {'best / setup':>13} {'median / setup':>15} "
        f"{'best CPU s':>11}"
    )
    for name, samples in wall.items():
        best, median = min(samples), statistics.median(samples)
        aim = "" if name in (BASELINE, "python -c pass") else f"  (aim < {AIM_SECONDS} s)"
        print(
            f"  {name:<24} {best:7.3f} {median:9.3f} {best / best_baseline:13.2f} "
            f"{median / median_baseline:15.2f} {min(cpu[name]):11.3f}{aim}"
        )
    print("  (wall time is the figure; CPU time, user + system, is less sensitive to the machine's load)")
    print(f"command: .venv/bin/python tests/bench/bench_startup.py --runs {args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
