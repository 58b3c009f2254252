"""Command line of the sandbox, shared by `manage.py sandbox` and `python -m vitiweb.sandbox`."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from .sandbox import DEFAULT_CRDS_DIR, SandboxFleet

DEFAULT_PORT = 6443


def add_arguments(
    parser: argparse.ArgumentParser, default_kubeconfig: Path, default_crds: Path = DEFAULT_CRDS_DIR
) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port of the first cluster; the others take the next ones (0: free ports)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--clusters", type=int, default=1, help="number of clusters to serve")
    parser.add_argument("--crds", type=Path, default=default_crds, help="directory of CRD YAML to install")
    parser.add_argument(
        "--shape",
        choices=("guide", "published"),
        default="guide",
        help="which CRDs to serve: the integration guide's (default) or the VitiStack project's published API "
        "(the CRDs directory's published/ folder)",
    )
    parser.add_argument(
        "--published", dest="shape", action="store_const", const="published", help="same as --shape published"
    )
    parser.add_argument(
        "--load",
        type=Path,
        action="append",
        default=[],
        help="manifest file or directory to load into every cluster (recursively; repeatable)",
    )
    parser.add_argument(
        "--kubeconfig-out",
        type=Path,
        default=default_kubeconfig,
        help="where to write a kubeconfig with one context per cluster",
    )
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a generated CA")
    parser.add_argument("--token", help="require this bearer token (written into the kubeconfig)")
    parser.add_argument("--simulate", action="store_true", help="run simulated VitiStack controllers")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated controllers")
    parser.add_argument(
        "--simulate-interval", type=float, default=1.0, help="seconds between simulated controller ticks"
    )
    parser.add_argument(
        "--populate",
        metavar="KEY=N,...",
        help="bulk-create generated objects, e.g. vitistacks=50,machine_providers=150,"
        "kubernetes_providers=50,machines=5000",
    )
    parser.add_argument("--history-size", type=int, default=10_000, help="watch history kept per cluster")
    parser.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between watch bookmarks")


def parse_populate(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        if not key.strip() or not value.strip().isdigit():
            raise ValueError(f"--populate expects KEY=N pairs, got {part!r}")
        out[key.strip().replace("-", "_")] = int(value)
    return out


def crds_dir(options: dict) -> Path:
    """The CRDs directory the options ask for: ``--crds``, or its ``published/`` folder with ``--shape published``."""
    base = Path(options.get("crds") or DEFAULT_CRDS_DIR)
    return base / "published" if options.get("shape") == "published" else base


def serve(options: dict, out: Callable[[str], None] = print) -> SandboxFleet:
    """Start the fleet the options describe and write its kubeconfig; returns it running."""
    populate = parse_populate(options.get("populate"))
    fleet = SandboxFleet(
        options.get("clusters", 1),
        base_port=options.get("port", DEFAULT_PORT),
        host=options.get("host", "127.0.0.1"),
        crds_dir=crds_dir(options),
        tls=options.get("tls", False),
        token=options.get("token"),
        simulate=options.get("simulate", False),
        seed=options.get("seed", 0),
        simulate_interval=options.get("simulate_interval", 1.0),
        history_size=options.get("history_size", 10_000),
        bookmark_interval=options.get("bookmark_interval", 60.0),
        warn=out,
    )
    for sb in fleet:
        for path in options.get("load") or []:
            report = sb.load(path, warn=out)
            out(
                f"{sb.name}: loaded {len(report.loaded)} objects from {path}"
                + (f", skipped {len(report.skipped)}" if report.skipped else "")
                + (f", failed {len(report.failed)}" if report.failed else "")
            )
        if populate:
            result = sb.populate(populate)
            out(f"{sb.name}: populated {result['created']} in {result['seconds']}s")
    fleet.start()
    path = fleet.write_kubeconfig(options["kubeconfig_out"])
    for sb in fleet:
        out(f"{sb.name}: serving {sb.url}")
    out(f"kubeconfig: {path} (contexts: {', '.join(sb.name for sb in fleet)})")
    out(f"try: kubectl --kubeconfig {path} get vitistacks,machineproviders,kubernetesproviders,machines -A")
    return fleet


def run(options: dict, out: Callable[[str], None] = print) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    fleet = serve(options, out)
    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        out("stopping the sandbox")
        fleet.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vitiweb.sandbox", description="Serve sandbox Kubernetes clusters.")
    add_arguments(parser, default_kubeconfig=Path("var/sandbox.kubeconfig"))
    run(vars(parser.parse_args(argv)))
