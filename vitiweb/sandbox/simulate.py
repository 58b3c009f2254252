"""Simulated VitiStack controllers: they write status as the real operators would.

Each tick (`step()`) moves machines Pending -> Provisioning -> Running (or
Failed with a message), keeps provider conditions (`Ready`, `ProviderHealthy`,
occasionally flapping), reports Kubernetes provider readiness and rolls stack
phase and counts up from what they reference. Status goes through the store's
status subresource, so watchers see ordinary MODIFIED events. What they do is
recorded as a real controller records it: Events (both APIs, see
`workloads.record_event`) for provisioning, failures, health flips and
reconcile errors, and log lines in the pod of the controller that did it
(`machine-controller` for machines, `vitistack-controller` for the rest).

Every decision is drawn from a generator seeded by (seed, tick, object), so a
given seed and the same objects give the same history whatever else runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from typing import Any

from . import simulate_published, workloads
from .store import Store, WriteOptions
from .strategy import now

log = logging.getLogger(__name__)

GROUP_VERSION = "vitistack.io/v1alpha1"
MANAGER = "vitistack-controller"
MACHINE_CONTROLLER = "machine-controller"
_FAILURES = [
    "insufficient capacity in the availability zone",
    "quota exceeded for instance family",
    "timed out waiting for the instance to boot",
    "machine image could not be pulled",
]


def _condition(old: list[dict] | None, type_: str, ok: bool, reason: str, message: str, generation: int) -> dict:
    status = "True" if ok else "False"
    previous = next((c for c in old or [] if c.get("type") == type_), None)
    changed = previous is None or previous.get("status") != status
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now() if changed else previous.get("lastTransitionTime", now()),
        "observedGeneration": generation,
    }


def _ref(obj: dict, ref: Any) -> tuple[str, str] | None:
    if not isinstance(ref, dict) or not ref.get("name"):
        return None
    return (ref.get("namespace") or obj["metadata"].get("namespace", ""), ref["name"])


class Simulator:
    def __init__(
        self,
        store: Store,
        seed: int = 0,
        interval: float = 1.0,
        failure_rate: float = 0.1,
        flap_rate: float = 0.02,
        progress_rate: float = 0.5,
        logbook: workloads.LogBook | None = None,
    ):
        self.store = store
        self.logbook = logbook
        self.seed = seed
        self.interval = interval
        self.failure_rate = failure_rate
        self.flap_rate = flap_rate
        self.progress_rate = progress_rate
        self.tick = 0
        self.writes = 0
        self._events = 0
        self._task: asyncio.Task | None = None

    # -- running ------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.step()
            except Exception:  # one odd object must not stop the controllers for good
                log.exception("sandbox simulator: tick %s failed", self.tick)

    def state(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "tick": self.tick,
            "interval": self.interval,
            "statusWrites": self.writes,
            "running": self._task is not None,
        }

    # -- one tick ----------------------------------------------------------------------

    def _rng(self, kind: str, obj: dict) -> random.Random:
        meta = obj["metadata"]
        key = f"{self.seed}/{self.tick}/{kind}/{meta.get('namespace', '')}/{meta['name']}"
        return random.Random(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big"))

    def _objects(self, kind: str) -> list[dict]:
        rt = self.store.registry.for_api_version(GROUP_VERSION, kind)
        if rt is None:
            return []
        return [e.obj for e in self.store.query(rt, None).entries]

    def step(self) -> int:
        """Advance every simulated controller by one tick; returns the number of status writes."""
        with self.store.lock:
            self.tick += 1
            before = self.writes
            if simulate_published.serves_published_shape(self):
                simulate_published.step(self)
                return self.writes - before
            mps = {self._key(o): o for o in self._objects("MachineProvider")}
            machines = self._objects("Machine")
            health = {key: self._provider(o, machines) for key, o in mps.items()}
            for m in machines:
                self._machine(m, mps)
            kps = {self._key(o): o for o in self._objects("KubernetesProvider")}
            kp_ready = {key: self._kubernetes_provider(o, health) for key, o in kps.items()}
            for stack in self._objects("Vitistack"):
                self._vitistack(stack, health, kp_ready, machines)
            return self.writes - before

    @staticmethod
    def _key(obj: dict) -> tuple[str, str]:
        return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def _write(self, kind: str, obj: dict, status: dict) -> None:
        if (obj.get("status") or {}) == status:
            return
        meta = obj["metadata"]
        self.store.update(
            {
                "apiVersion": GROUP_VERSION,
                "kind": kind,
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta.get("namespace"),
                    "resourceVersion": meta["resourceVersion"],
                },
                "status": status,
            },
            subresource="status",
            options=WriteOptions(manager=MANAGER),
        )
        self.writes += 1

    def _event(self, obj: dict, kind: str, type_: str, reason: str, message: str) -> None:
        meta = obj["metadata"]
        controller = MACHINE_CONTROLLER if kind == "Machine" else MANAGER
        self._events += 1
        regarding = {
            "apiVersion": GROUP_VERSION,
            "kind": kind,
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        }
        workloads.record_event(self.store, regarding, type_, reason, message, controller)
        level = "ERROR" if type_ == "Warning" else "INFO"
        text = "Reconciler error" if type_ == "Warning" else message
        values = {kind: {"name": meta["name"], "namespace": meta.get("namespace", "")}, "reason": reason}
        if type_ == "Warning":
            values["error"] = message
        self._log(controller, level, text, values)

    def _log(self, controller: str, level: str, message: str, values: dict) -> None:
        if self.logbook is not None:
            self.logbook.write(
                workloads.CONTROLLER_NAMESPACE,
                workloads.pod_name(controller),
                workloads.CONTAINER,
                workloads.log_line(level, controller, message, values),
            )

    def _provider(self, mp: dict, machines: list[dict]) -> bool:
        old = mp.get("status") or {}
        conditions = old.get("conditions")
        was_healthy = next(
            (c.get("status") == "True" for c in conditions or [] if c.get("type") == "ProviderHealthy"), None
        )
        rng = self._rng("MachineProvider", mp)
        if was_healthy is None:
            healthy = True
        elif was_healthy:
            healthy = rng.random() >= self.flap_rate
        else:
            healthy = rng.random() < self.progress_rate
        key = self._key(mp)
        count = sum(1 for m in machines if _ref(m, m.get("spec", {}).get("machineProvider")) == key)
        gen = mp["metadata"].get("generation", 1)
        reason, message = (
            ("HealthCheckPassed", "provider API reachable")
            if healthy
            else ("HealthCheckFailed", "provider API health check timed out")
        )
        status = {
            "phase": "Ready" if healthy else "Degraded",
            "message": message,
            "observedGeneration": gen,
            "conditions": [
                _condition(
                    conditions, "Ready", healthy, "ProviderReady" if healthy else "ProviderUnhealthy", message, gen
                ),
                _condition(conditions, "ProviderHealthy", healthy, reason, message, gen),
            ],
            "machineCount": count,
            "lastHealthCheckTime": old.get("lastHealthCheckTime") or now(),
        }
        if status["phase"] != old.get("phase") or status["machineCount"] != old.get("machineCount"):
            status["lastHealthCheckTime"] = now()
        if was_healthy is not None and healthy != was_healthy:
            self._event(
                mp,
                "MachineProvider",
                "Normal" if healthy else "Warning",
                "ProviderHealthy" if healthy else "ProviderUnhealthy",
                message,
            )
        self._write("MachineProvider", mp, status)
        return healthy

    def _machine(self, m: dict, mps: dict[tuple[str, str], dict]) -> None:
        old = m.get("status") or {}
        phase = old.get("phase")
        spec = m.get("spec") or {}
        gen = m["metadata"].get("generation", 1)
        if phase in ("Running", "Failed"):
            return
        rng = self._rng("Machine", m)
        ref = _ref(m, spec.get("machineProvider"))
        provider = mps.get(ref) if ref else None
        status: dict[str, Any] = {"observedGeneration": gen}
        if not phase:
            status.update(phase="Pending", message="waiting for the machine provider")
        elif phase == "Pending":
            if rng.random() >= self.progress_rate:
                return
            status.update(phase="Provisioning", message="creating the instance")
            self._event(m, "Machine", "Normal", "Provisioning", "creating the instance")
        else:
            if rng.random() >= self.progress_rate:
                return
            failure = self._failure(m, spec, ref, provider, rng)
            if failure:
                status.update(
                    phase="Failed",
                    message=failure,
                    conditions=[_condition(old.get("conditions"), "Ready", False, "ProvisioningFailed", failure, gen)],
                )
                self._event(m, "Machine", "Warning", "ProvisioningFailed", failure)
            else:
                digest = hashlib.blake2b(f"{ref}/{m['metadata']['name']}".encode(), digest_size=3).digest()
                region = (provider or {}).get("spec", {}).get("region") or "local"
                status.update(
                    phase="Running",
                    message="machine is running",
                    providerID=f"sandbox://{ref[1] if ref else 'none'}/{m['metadata']['name']}",
                    addresses=[
                        {"type": "InternalIP", "address": f"10.{digest[0]}.{digest[1]}.{digest[2]}"},
                        {"type": "Hostname", "address": m["metadata"]["name"]},
                    ],
                    instanceType=spec.get("instanceType", ""),
                    zone=f"{region}a",
                    conditions=[
                        _condition(old.get("conditions"), "Ready", True, "MachineRunning", "machine is running", gen)
                    ],
                )
                self._event(m, "Machine", "Normal", "Provisioned", f"machine is running in zone {region}a")
        self._write("Machine", m, status)

    def _failure(self, m: dict, spec: dict, ref, provider: dict | None, rng: random.Random) -> str | None:
        if ref is None:
            return "spec.machineProvider is not set"
        if provider is None:
            return f'MachineProvider "{ref[1]}" not found in namespace "{ref[0]}"'
        pspec = provider.get("spec") or {}
        offered = [t.get("name") for t in (pspec.get(pspec.get("type", ""), {}) or {}).get("instanceTypes") or []]
        if offered and spec.get("instanceType") and spec["instanceType"] not in offered:
            return f'instance type "{spec["instanceType"]}" is not offered by MachineProvider "{ref[1]}"'
        if rng.random() < self.failure_rate:
            return rng.choice(_FAILURES)
        return None

    def _kubernetes_provider(self, kp: dict, health: dict[tuple[str, str], bool]) -> bool:
        old = kp.get("status") or {}
        spec = kp.get("spec") or {}
        gen = kp["metadata"].get("generation", 1)
        groups = ((spec.get(spec.get("type", "")) or {}).get("nodeGroups")) or []
        providers = [_ref(kp, g.get("machineProvider")) for g in groups]
        unhealthy = [p[1] for p in providers if p is not None and not health.get(p, False)]
        if not old.get("phase"):
            ready, phase, message = False, "Provisioning", "creating the control plane"
        elif old.get("phase") == "Provisioning" and self._rng("KubernetesProvider", kp).random() >= self.progress_rate:
            return False
        else:
            ready = not unhealthy
            phase = "Ready" if ready else "Degraded"
            message = "cluster is ready" if ready else f"node group machine providers unhealthy: {', '.join(unhealthy)}"
        status = {
            "phase": phase,
            "message": message,
            "observedGeneration": gen,
            "conditions": [
                _condition(
                    old.get("conditions"),
                    "Ready",
                    ready,
                    "ClusterReady"
                    if ready
                    else ("Provisioning" if phase == "Provisioning" else "NodeGroupProviderUnhealthy"),
                    message,
                    gen,
                )
            ],
            "version": spec.get("version", ""),
            "endpoint": f"https://{kp['metadata']['name']}.{kp['metadata'].get('namespace', 'default')}.sandbox.local:6443",
            "readyNodeGroups": len(groups) - len(unhealthy) if ready or phase == "Degraded" else 0,
        }
        if old.get("phase") and old.get("phase") != phase:
            ok = phase == "Ready"
            self._event(
                kp,
                "KubernetesProvider",
                "Normal" if ok else "Warning",
                "ClusterReady" if ok else "ClusterUnhealthy",
                message,
            )
        self._write("KubernetesProvider", kp, status)
        return ready

    def _vitistack(self, stack: dict, health: dict, kp_ready: dict, machines: list[dict]) -> None:
        old = stack.get("status") or {}
        spec = stack.get("spec") or {}
        gen = stack["metadata"].get("generation", 1)
        mp_refs = [r for r in (_ref(stack, x) for x in spec.get("machineProviders") or []) if r]
        kp_refs = [r for r in (_ref(stack, x) for x in spec.get("kubernetesProviders") or []) if r]
        missing = [f"MachineProvider {r[1]}" for r in mp_refs if r not in health] + [
            f"KubernetesProvider {r[1]}" for r in kp_refs if r not in kp_ready
        ]
        unhealthy = [r[1] for r in mp_refs if health.get(r) is False] + [
            r[1] for r in kp_refs if kp_ready.get(r) is False
        ]
        if missing:
            phase, message = "Degraded", "referenced providers not found: " + ", ".join(missing)
        elif unhealthy:
            phase, message = "Degraded", "providers not ready: " + ", ".join(unhealthy)
        else:
            phase, message = "Ready", "all providers ready"
        refs = set(mp_refs)
        count = sum(1 for m in machines if _ref(m, m.get("spec", {}).get("machineProvider")) in refs)
        status = {
            "phase": phase,
            "message": message,
            "observedGeneration": gen,
            "conditions": [
                _condition(
                    old.get("conditions"),
                    "Ready",
                    phase == "Ready",
                    "ProvidersReady" if phase == "Ready" else "ProvidersNotReady",
                    message,
                    gen,
                )
            ],
            "machineCount": count,
            "clusterCount": len(kp_refs),
            "providerCount": len(mp_refs) + len(kp_refs),
        }
        if message != old.get("message"):
            if missing:
                self._event(stack, "Vitistack", "Warning", "ReconcileError", message)
            elif old.get("phase") and phase != old.get("phase"):
                self._event(
                    stack,
                    "Vitistack",
                    "Normal" if phase == "Ready" else "Warning",
                    "Ready" if phase == "Ready" else "ProvidersNotReady",
                    message,
                )
        self._write("Vitistack", stack, status)
