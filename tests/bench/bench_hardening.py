"""Benchmark: what the YAML bombs of issue 16 cost the reader that refuses them.

Each input goes through ``vitiweb.safeyaml`` (as bulk apply, import, the
editor and kubeconfigs read it); the figures are the wall time and the
memory peak (tracemalloc) of the refusal, against a baseline measured in the
same run: reading the whole ``examples/`` folder (every scenario of the
guide, about 100 KiB of ordinary manifests). For scale, PyYAML's own
``safe_load`` is timed on the same alias tower made 1,000 times smaller (the
full one would need gigabytes). The issue's aim: each bomb refused within
100 ms and 50 MB.

Run (no database needed):

    .venv/bin/python tests/bench/bench_hardening.py
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vitiweb.settings")

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
import yaml  # noqa: E402

from vitiweb import safeyaml  # noqa: E402
from vitiweb.filters import parse_label_selector  # noqa: E402


def laughs(levels: int, width: int = 10) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]" for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


BOMBS = {
    "billion laughs (9 levels, 370 B)": laughs(9),
    "cyclic alias": "a: &a [*a, {b: *a}]\n",
    "2,000 nested [": "[" * 2000,
    "500 nested [] (closed)": "[" * 500 + "]" * 500,
    "300-deep block maps": "".join("  " * d + f"k{d}:\n" for d in range(300)) + "  " * 300 + "v: 1\n",
    "2 MiB flat list (size limit, not a bomb)": "[" + "1," * (1024 * 1024 - 2) + "1]",
    "duplicate key at the end of 1,000 keys": "".join(f"k{n}: v\n" for n in range(1000)) + "k0: again\n",
}


def measure(call, repeat: int = 5) -> tuple[float, float, str]:
    """(best time in ms, memory peak in MB, outcome) of ``call``."""
    best = float("inf")
    outcome = "read"
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            call()
        except (safeyaml.YamlError, Exception) as exc:  # noqa: BLE001 - the outcome is reported, whatever it is
            outcome = f"refused: {str(exc)[:70]}"
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    try:
        call()
    except Exception:  # noqa: BLE001,S110 - measured above
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best * 1000, peak / 1e6, outcome


def main() -> None:
    examples = [(path, path.read_text()) for path in sorted((ROOT / "examples").rglob("*.yaml"))]
    size = sum(len(text) for _, text in examples)
    base_ms, base_mb, _ = measure(lambda: [safeyaml.load_all(text, str(path)) for path, text in examples])
    pyyaml_ms, pyyaml_mb, _ = measure(lambda: [list(yaml.safe_load_all(text)) for _, text in examples])
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(
        f"baseline: examples/ ({len(examples)} files, {size / 1024:.0f} KiB) read by safeyaml in {base_ms:.1f} ms, "
        f"peak {base_mb:.1f} MB (PyYAML safe_load_all: {pyyaml_ms:.1f} ms, {pyyaml_mb:.1f} MB)"
    )
    print()
    print(f"{'input':42} {'ms':>8} {'x base':>7} {'MB':>7}  outcome")
    for name, text in BOMBS.items():
        ms, mb, outcome = measure(lambda text=text: safeyaml.load_all(text, "bomb.yaml"))
        print(f"{name:42} {ms:8.1f} {ms / base_ms:7.2f} {mb:7.2f}  {outcome}")
    selector = ",".join(["a"] * 1200)
    ms, mb, outcome = measure(lambda: parse_label_selector(selector))
    print(f"{'label selector, 1,200 requirements':42} {ms:8.1f} {ms / base_ms:7.2f} {mb:7.2f}  {outcome}")
    print()
    small = laughs(6)
    ms, mb, _ = measure(lambda: yaml.safe_load(small), repeat=1)
    print(
        f"for scale: PyYAML safe_load of the laughs at 6 levels (10**7 leaves once expanded, built shared): {ms:.1f} ms, {mb:.1f} MB;"
    )
    started = time.perf_counter()
    size = len(orjson.dumps(yaml.safe_load(small)))
    print(
        f"  serialising them with orjson (as the run stored its documents) gives {size / 1e6:.1f} MB in "
        f"{(time.perf_counter() - started) * 1000:.0f} ms; 9 levels would be 1,000 times that"
    )


if __name__ == "__main__":
    main()
