"""The sandbox as the real kubectl (as pinned in requirements.txt) sees it, through a generated kubeconfig."""

from __future__ import annotations

import queue
import subprocess
import threading
import time

import pytest
import yaml

from .conftest import EXAMPLES, KUBECTL

FOLDERS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
VITISTACK_FOLDERS = [p for p in FOLDERS if p.name != "07-monitoring"]
KINDS = "vitistacks,machineproviders,kubernetesproviders,machines"


def _namespaces_first(kubectl, folder):
    for ns_file in [EXAMPLES / "01-single-cloud" / "namespace.yaml", folder / "namespace.yaml"]:
        if ns_file.exists():
            kubectl("apply", "-f", str(ns_file), check=True)


def _expected(folders):
    """(kind, namespace, name) of every VitiStack document, namespace defaulted as kubectl does."""
    out = set()
    for folder in folders:
        for path in folder.glob("*.yaml"):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc and doc["apiVersion"].startswith("vitistack.io/"):
                    out.add((doc["kind"], doc["metadata"].get("namespace", "default"), doc["metadata"]["name"]))
    return out


def _listed(kubectl):
    got = kubectl("get", KINDS, "-A", "-o", "yaml", check=True)
    return {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in yaml.safe_load(got.stdout)["items"]}


@pytest.mark.parametrize("server_side", [False, True], ids=["client-side", "server-side"])
def test_apply_every_example_folder(kubectl, server_side):
    for folder in VITISTACK_FOLDERS:
        _namespaces_first(kubectl, folder)
        args = ["apply", "-f", str(folder)] + (["--server-side"] if server_side else [])
        result = kubectl(*args, check=True)
        assert ("serverside-applied" if server_side else "created") in result.stdout
    assert _listed(kubectl) == _expected(VITISTACK_FOLDERS)
    # Applying again changes nothing.
    again = kubectl(
        "apply", "-f", str(EXAMPLES / "02-multi-cloud-dr"), *(["--server-side"] if server_side else []), check=True
    )
    assert ("serverside-applied" if server_side else "unchanged") in again.stdout
    table = kubectl("get", KINDS, "-A", check=True).stdout
    assert "machine.vitistack.io/bastion-host" in table and "aws-ec2-provider" in table
    assert "INSTANCE TYPE" in table and "t3.micro" in table
    # The monitoring folder holds kinds this cluster does not serve: kubectl says so.
    monitoring = kubectl("apply", "-f", str(EXAMPLES / "07-monitoring"))
    assert monitoring.returncode != 0
    assert 'no matches for kind "ServiceMonitor" in version "monitoring.coreos.com/v1"' in monitoring.stderr


def test_get_yaml_dry_run_delete(kubectl, sandbox):
    _namespaces_first(kubectl, EXAMPLES / "01-single-cloud")
    kubectl("apply", "-f", str(EXAMPLES / "01-single-cloud"), check=True)
    obj = yaml.safe_load(
        kubectl("get", "vitistacks", "aws-production", "-n", "production", "-o", "yaml", check=True).stdout
    )
    assert obj["spec"]["resourceQuotas"]["maxMachines"] == 100
    assert obj["metadata"]["generation"] == 1 and obj["metadata"]["uid"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]

    rv = sandbox.store.resource_version
    changed = (
        (EXAMPLES / "01-single-cloud" / "vitistack.yaml").read_text().replace("maxMachines: 100", "maxMachines: 7")
    )
    dry = kubectl("apply", "--dry-run=server", "-f", "-", "-o", "yaml", input=changed, check=True)
    assert yaml.safe_load(dry.stdout)["spec"]["resourceQuotas"]["maxMachines"] == 7
    assert sandbox.store.resource_version == rv
    assert (
        sandbox.store.get("vitistack.io/v1alpha1", "Vitistack", "aws-production", "production")["spec"][
            "resourceQuotas"
        ]["maxMachines"]
        == 100
    )

    deleted = kubectl("delete", "-f", str(EXAMPLES / "01-single-cloud" / "machine.yaml"), check=True)
    assert 'machine.vitistack.io "bastion-host" deleted' in deleted.stdout
    gone = kubectl("get", "machine", "bastion-host", "-n", "production")
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    kubectl("delete", "namespace", "production", check=True)
    assert kubectl("get", KINDS, "-A").stderr.strip() == "No resources found"


def test_get_watch_sees_a_change(kubectl, sandbox, sandbox_kubeconfig, tmp_path):
    _namespaces_first(kubectl, EXAMPLES / "01-single-cloud")
    kubectl("apply", "-f", str(EXAMPLES / "01-single-cloud" / "vitistack.yaml"), check=True)
    env = {"KUBECONFIG": str(sandbox_kubeconfig), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [KUBECTL, "get", "vitistacks", "-n", "production", "-w", "--request-timeout=0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        assert lines.get(timeout=20).split() == ["NAME", "REGION", "ROLE", "PHASE", "AGE"]
        assert lines.get(timeout=20).split()[:2] == ["aws-production", "us-west-2"]
        deadline = time.monotonic() + 5
        while not sandbox.server.streams and time.monotonic() < deadline:
            time.sleep(0.02)
        sandbox.store.patch(
            "vitistack.io/v1alpha1", "Vitistack", "aws-production", {"spec": {"region": "eu-west-1"}}, "production"
        )
        assert lines.get(timeout=20).split()[:2] == ["aws-production", "eu-west-1"]
    finally:
        proc.kill()
        proc.communicate()


def test_schema_error_names_the_field(kubectl):
    _namespaces_first(kubectl, EXAMPLES / "01-single-cloud")
    bad = (EXAMPLES / "01-single-cloud" / "vitistack.yaml").read_text().replace("maxMachines: 100", "maxMachines: lots")
    result = kubectl("apply", "-f", "-", input=bad)
    assert result.returncode != 0
    assert 'The Vitistack "aws-production" is invalid' in result.stderr
    assert "spec.resourceQuotas.maxMachines: Invalid value" in result.stderr
    unknown = (
        (EXAMPLES / "01-single-cloud" / "vitistack.yaml")
        .read_text()
        .replace("  region: us-west-2", "  region: us-west-2\n  colour: blue")
    )
    strict = kubectl("apply", "-f", "-", input=unknown)
    assert strict.returncode != 0 and 'unknown field "spec.colour"' in strict.stderr
    ssa = kubectl("apply", "--server-side", "-f", "-", input=unknown)
    assert ssa.returncode != 0 and ".spec.colour: field not declared in schema" in ssa.stderr


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
"""


def test_install_a_crd_with_kubectl_then_use_it(kubectl):
    kubectl("get", "ns", check=True)  # warm the discovery cache before the CRD exists
    assert "created" in kubectl("apply", "-f", "-", input=CRD, check=True).stdout
    kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=5s", check=True)
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n"
    assert "widget.example.com/w1 created" in kubectl("apply", "-f", "-", input=widget, check=True).stdout
    table = kubectl("get", "wd", check=True).stdout.split("\n")
    assert table[0].split() == ["NAME", "SIZE"] and table[1].split() == ["w1", "3"]
    bad = kubectl("apply", "-f", "-", input=widget.replace("size: 3", "size: big"))
    assert "spec.size: Invalid value" in bad.stderr


def test_auth_can_i_with_a_limited_token(sandbox_factory, tmp_path):
    from vitiweb.sandbox import Rule, Token

    sb = sandbox_factory(
        tls=True,
        tokens=[
            Token(
                "t",
                user="viewer",
                deny=[Rule(verbs=("watch",), resources=("machineproviders",), namespaces=("production",))],
            )
        ],
    )
    sb.token = "t"
    path = sb.write_kubeconfig(tmp_path / "kubeconfig")

    def run(*args):
        return subprocess.run(
            [KUBECTL, f"--kubeconfig={path}", f"--cache-dir={tmp_path / 'c'}", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert run("auth", "can-i", "watch", "machineproviders.vitistack.io", "-n", "production").stdout.strip() == "no"
    assert run("auth", "can-i", "list", "machineproviders.vitistack.io", "-n", "production").stdout.strip() == "yes"
    watch = run("get", "machineproviders", "-n", "production", "--watch-only", "--request-timeout=2s")
    assert "Forbidden" in watch.stderr and 'cannot watch resource "machineproviders"' in watch.stderr


def test_typed_commands_that_send_protobuf(kubectl, sandbox):
    # kubectl's typed clients (create namespace/secret, auth) encode request bodies as protobuf.
    assert kubectl("create", "namespace", "production", check=True).stdout.strip() == "namespace/production created"
    kubectl(
        "create",
        "secret",
        "generic",
        "aws-credentials",
        "-n",
        "production",
        "--from-literal=access-key-id=AKIAIOSFODNN7EXAMPLE",
        check=True,
    )
    secret = sandbox.store.get("v1", "Secret", "aws-credentials", "production")
    assert secret["type"] == "Opaque" and secret["data"] == {"access-key-id": "QUtJQUlPU0ZPRE5ON0VYQU1QTEU="}
    assert kubectl("auth", "can-i", "create", "machines.vitistack.io", check=True).stdout.strip() == "yes"
    assert "Username" in kubectl("auth", "whoami", check=True).stdout
