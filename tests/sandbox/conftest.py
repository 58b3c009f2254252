"""Helpers to run real clients (kubectl, the official Python client) against the sandbox fixtures."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.tools import KUBECTL

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@pytest.fixture
def kubectl(sandbox_kubeconfig, tmp_path):
    """Run kubectl against the sandbox: kubectl("get", "ns") -> CompletedProcess (never raises)."""
    env = {**os.environ, "KUBECONFIG": str(sandbox_kubeconfig), "HOME": str(tmp_path)}
    cache = tmp_path / "kube-cache"

    def run(*args, input=None, timeout=30, check=False):
        proc = subprocess.run(
            [KUBECTL, f"--cache-dir={cache}", *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run


def api_client(kubeconfig_path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig_path))


@pytest.fixture
def k8s(sandbox_kubeconfig):
    """An official-client ApiClient for the sandbox."""
    api = api_client(sandbox_kubeconfig)
    yield api
    api.close()
