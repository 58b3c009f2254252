"""Pytest fixtures for tests that need a cluster: a fresh, started sandbox each.

    sandbox              a started Sandbox with the project's crds/ loaded
    sandbox_kubeconfig   the path (a str, as the kubernetes client wants it) of a kubeconfig for it
                         (context "sandbox")
    sandbox_factory      make_sandbox(**Sandbox options) -> started Sandbox, for tokens, TLS,
                         a short history or short bookmarks; all are stopped at teardown

Register with `pytest_plugins = ["vitiweb.sandbox.pytest_plugin"]` in the root conftest,
or import the fixtures into a conftest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .sandbox import Sandbox


@pytest.fixture
def sandbox_factory() -> Callable[..., Sandbox]:
    started: list[Sandbox] = []

    def make(**options: Any) -> Sandbox:
        options.setdefault("warn", lambda message: None)
        sb = Sandbox(**options)
        sb.start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox(sandbox_factory) -> Sandbox:
    return sandbox_factory()


@pytest.fixture
def sandbox_kubeconfig(sandbox: Sandbox, tmp_path: Path) -> str:
    return str(sandbox.write_kubeconfig(tmp_path / "sandbox.kubeconfig"))
