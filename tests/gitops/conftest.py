"""Real Git repositories made with git in each test, and a synced sandbox cluster they describe."""

import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.sync.conftest import registered, running_sync  # noqa: F401 - fixtures used by the gitops tests
from tests.tools import KUBECTL

STAGING = {
    "vitistacks/staging/vitistack.yaml": """
        apiVersion: vitistack.io/v1alpha1
        kind: Vitistack
        metadata:
          name: staging-us-west-vitistack
          namespace: staging
          labels:
            vitistack.io/environment: staging
        spec:
          region: us-west-2
          description: Staging in US West
          machineProviders:
            - name: aws-us-west-provider
              priority: 1
        """,
    "providers/machine-providers/aws-us-west-provider.yaml": """
        apiVersion: vitistack.io/v1alpha1
        kind: MachineProvider
        metadata:
          name: aws-us-west-provider
          namespace: staging
          labels:
            vitistack.io/environment: staging
        spec:
          type: aws
          region: us-west-2
          aws:
            instanceTypes:
              - name: m5.large
                vcpus: 2
                memory: 8Gi
        """,
    "machines/worker-nodes/workers.yaml": """
        # Two workers in one file: back-to-Git keeps this comment and the other document as written.
        apiVersion: vitistack.io/v1alpha1
        kind: Machine
        metadata:
          name: worker-staging-001
          namespace: staging
          labels:
            vitistack.io/environment: staging
        spec:
          machineProvider:
            name: aws-us-west-provider
          instanceType: m5.large
        ---
        apiVersion: vitistack.io/v1alpha1
        kind: Machine
        metadata:
          name: worker-staging-002
          namespace: staging
          labels:
            vitistack.io/environment: staging
        spec:
          machineProvider:
            name: aws-us-west-provider
          instanceType: m5.large
        """,
    "namespaces.yaml": """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: staging
        """,
}


class GitRepo:
    """A repository on disk, changed and committed with the git command line as an operator would."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "ops@example.com")
        self.git("config", "user.name", "Ops")

    def git(self, *args) -> str:
        return subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True, text=True).stdout

    def write(self, files: dict[str, str], under: str = "infrastructure") -> None:
        for relative, text in files.items():
            target = self.path / under / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text).lstrip())

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path):
    """A repository in the guide's layout (infrastructure/...) holding a staging environment."""
    repository = GitRepo(tmp_path / "repo")
    repository.write(STAGING)
    repository.commit("Staging environment")
    return repository


@pytest.fixture
def kubectl(registered, tmp_path):  # noqa: F811 - the imported fixture, requested by name
    """kubectl against the registered sandbox: kubectl("apply", "-f", path) -> stdout."""
    sandbox, _ = registered
    config = sandbox.write_kubeconfig(tmp_path / "kubectl-config")

    def run(*args, input=None):
        result = subprocess.run(
            [KUBECTL, "--kubeconfig", str(config), *args], capture_output=True, text=True, input=input, timeout=30
        )
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    return run


def wait_for(condition, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_the_repository_mirrored():
    """Every object the repository holds (a Vitistack, a provider, two machines) is in the database."""
    from machines.models import Machine
    from providers.models import MachineProvider
    from stacks.models import Vitistack

    wait_for(
        lambda: (Vitistack.objects.count(), MachineProvider.objects.count(), Machine.objects.count()) == (1, 1, 2),
        what="the repository's objects to sync",
    )
