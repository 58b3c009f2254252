"""Running sandbox clusters: `Sandbox` (one cluster) and `SandboxFleet` (N clusters, one process).

The servers run on an asyncio loop in a daemon thread, so tests and the
management command drive them with plain calls: `start()` returns the URL,
`stop()` ends serving and keeps the state, and `start()` again serves the same
state on the same port, as an API server restart does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from . import kubeconfig, loader, workloads
from . import tls as tls_mod
from .auth import Auth, Token
from .faults import Faults
from .populate import populate as populate_store
from .server import AdminHooks, ApiServer
from .simulate import Simulator
from .store import DEFAULT_HISTORY, Store

# The sandbox reads the project's CRD YAML and nothing else of Vitiweb.
DEFAULT_CRDS_DIR = Path(__file__).resolve().parents[2] / "crds"
#: Vitiweb's CRDs of the VitiStack project's published API (the other shape; see crds/published/).
PUBLISHED_CRDS_DIR = DEFAULT_CRDS_DIR / "published"
SHAPES = {"guide": DEFAULT_CRDS_DIR, "published": PUBLISHED_CRDS_DIR}


class _LoopThread:
    """An event loop in a daemon thread; several clusters may share one."""

    def __init__(self, name: str = "vitiweb-sandbox"):
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()
        self.loop.close()

    def on_loop(self) -> bool:
        return threading.current_thread() is self.thread

    def run(self, coro: Coroutine, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable, *args) -> Any:
        if self.on_loop():
            return fn(*args)

        async def wrapper():
            return fn(*args)

        return self.run(wrapper())

    def close(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


class Sandbox(AdminHooks):
    """One emulated Kubernetes API server.

    tokens: extra `Token`s (user, deny rules); `token` is a shortcut for one
    all-powerful token. With no token at all, requests need no authentication.
    """

    def __init__(
        self,
        crds_dir: str | Path | None = DEFAULT_CRDS_DIR,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        token: str | None = None,
        tokens: list[Token] | None = None,
        tls: bool = False,
        tls_material: tls_mod.TlsMaterial | None = None,
        history_size: int = DEFAULT_HISTORY,
        bookmark_interval: float = 60.0,
        name: str = "sandbox",
        load: str | Path | None = None,
        simulate: bool = False,
        seed: int = 0,
        simulate_interval: float = 1.0,
        warn: Callable[[str], None] = print,
        _loop: _LoopThread | None = None,
    ):
        self.name = name
        self.host = host
        self.port = port
        self.store = Store(history_size=history_size)
        workloads.install_types(self.store)
        if crds_dir is not None:
            loader.load_crds(self.store, crds_dir)
        if load is not None:
            loader.load(self.store, load, warn=warn)
        self.token = token
        all_tokens = list(tokens or [])
        if token:
            all_tokens.insert(0, Token(token, groups=["system:masters", "system:authenticated"]))
        self.auth = Auth(all_tokens)
        self.tls = tls_material or (tls_mod.generate() if tls else None)
        self.faults = Faults(self.store, self._drop_watches, self._restart)
        self.server = ApiServer(self.store, self.auth, self.faults, bookmark_interval, admin=self)
        self.simulator = (
            Simulator(self.store, seed=seed, interval=simulate_interval, logbook=self.server.logbook)
            if simulate
            else None
        )
        if simulate:
            workloads.install_controllers(self.store, self.server.logbook)
        self._shared_loop = _loop
        self._loop: _LoopThread | None = _loop
        self._runner: web.AppRunner | None = None
        self._restarting: asyncio.Future | None = None

    # -- lifecycle --------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> str:
        if self._runner is None:
            if self._loop is None:
                self._loop = _LoopThread(f"vitiweb-sandbox-{self.name}")
            self._loop.run(self._serve())
        return self.url

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._runner is not None:
            self._loop.run(self._shutdown())
        if self._shared_loop is None:
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    async def _serve(self) -> None:
        self.store.loop = asyncio.get_running_loop()
        # handler_cancellation: a watch whose client went away is ended at once, not at its next write.
        runner = web.AppRunner(
            self.server.app(), access_log=None, handle_signals=False, shutdown_timeout=0.25, handler_cancellation=True
        )
        await runner.setup()
        ssl_context = self.tls.server_context() if self.tls else None
        site = web.TCPSite(runner, self.host, self.port, ssl_context=ssl_context, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._runner = runner
        if self.simulator is not None:
            self.simulator.start()

    async def _shutdown(self) -> None:
        if self.simulator is not None:
            await self.simulator.stop()
        self.server.drop_streams(abrupt=False)
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- faults that need the server ----------------------------------------------------

    def _drop_watches(self, abrupt: bool) -> int:
        if self._loop is None or self._runner is None:
            return 0
        return self._loop.call(self.server.drop_streams, abrupt)

    def _restart(self, downtime: float) -> None:
        if self._loop is not None and self._loop.on_loop():
            # Asked over HTTP: answer first, then go away and come back.
            async def later():
                await asyncio.sleep(0.05)
                await self._shutdown()
                await asyncio.sleep(downtime)
                await self._serve()

            # The loop holds tasks weakly: keep this one until it is done.
            self._restarting = asyncio.ensure_future(later())
            return
        if self._runner is not None:
            self._loop.run(self._shutdown())
        time.sleep(downtime)
        self.start()

    # -- content and clients ------------------------------------------------------------

    def load(self, path: str | Path, warn: Callable[[str], None] = print) -> loader.LoadReport:
        return loader.load(self.store, path, warn=warn)

    def populate(self, spec: dict[str, Any] | None = None, **kw) -> dict[str, Any]:
        """Bulk-create generated objects; see `vitiweb.sandbox.populate.populate`."""
        options = dict(spec or {})
        options.update(kw)
        return populate_store(self.store, **options)

    def kubeconfig_entry(self, context_name: str | None = None) -> kubeconfig.ClusterEntry:
        return kubeconfig.ClusterEntry(
            name=context_name or self.name,
            server=self.url,
            ca_pem=self.tls.ca_pem if self.tls else None,
            token=self.token,
        )

    def write_kubeconfig(self, path: str | Path, context_name: str | None = None) -> Path:
        return kubeconfig.write(path, [self.kubeconfig_entry(context_name)])

    def state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "store": self.store.stats(),
            "faults": self.faults.state(),
            "openWatches": len(self.server.streams),
            "auth": {"enabled": self.auth.enabled, "users": sorted({t.user for t in self.auth.tokens.values()})},
            "simulator": self.simulator.state() if self.simulator else None,
        }


class SandboxFleet:
    """N sandbox clusters on consecutive ports (or free ports with base_port=0), one event loop."""

    def __init__(
        self,
        clusters: int = 2,
        *,
        base_port: int = 0,
        name_prefix: str = "sandbox",
        tls: bool = False,
        seed: int = 0,
        **kw,
    ):
        self._loop = _LoopThread("vitiweb-sandbox-fleet")
        material = tls_mod.generate() if tls else None
        self.sandboxes = [
            Sandbox(
                port=base_port + i if base_port else 0,
                name=f"{name_prefix}-{i + 1}" if clusters > 1 else name_prefix,
                tls_material=material,
                seed=seed + i,
                _loop=self._loop,
                **kw,
            )
            for i in range(clusters)
        ]

    def __len__(self) -> int:
        return len(self.sandboxes)

    def __iter__(self):
        return iter(self.sandboxes)

    def __getitem__(self, i: int) -> Sandbox:
        return self.sandboxes[i]

    def start(self) -> list[str]:
        return [s.start() for s in self.sandboxes]

    def stop(self) -> None:
        for s in self.sandboxes:
            s.stop()
        self._loop.close()

    def __enter__(self) -> SandboxFleet:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def write_kubeconfig(self, path: str | Path) -> Path:
        return kubeconfig.write(path, [s.kubeconfig_entry() for s in self.sandboxes])
