"""The sandbox serves what an operator troubleshoots with: Events in both APIs, the controllers'
Deployments, Pods and logs (followed), and RBAC answered as SubjectAccessReviews, checked with the
official client and kubectl."""

import subprocess
import threading
import time

import kubernetes.client
import pytest

from tests.tools import KUBECTL
from vitiweb.sandbox import workloads
from vitiweb.sandbox.simulate import Simulator

NS = "production"
CONTROLLER_SA = "system:serviceaccount:vitistack-system:vitistack-controller"


def client_for(sandbox, tmp_path):
    from kubernetes import config

    path = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    return config.new_client_from_config(str(path)), path


def machine(name, provider="missing-provider"):
    return {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "Machine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"machineProvider": {"name": provider}, "instanceType": "m5.large"},
    }


@pytest.fixture
def simulated(sandbox_factory):
    sandbox = sandbox_factory(simulate=True, simulate_interval=3600)  # ticks driven by the test
    sandbox.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    sandbox.simulator.progress_rate = 1.0
    return sandbox


def run_until_failed(simulator: Simulator, store, name: str) -> None:
    for _ in range(5):
        simulator.step()
        if (store.get("vitistack.io/v1alpha1", "Machine", name, NS).get("status") or {}).get("phase") == "Failed":
            return
    raise AssertionError(f"{name} never failed")


def test_a_failed_machine_is_a_warning_event_in_both_apis_and_an_error_in_its_controllers_log(simulated, tmp_path):
    api_client, _ = client_for(simulated, tmp_path)
    simulated.store.create(machine("web-1"))
    run_until_failed(simulated.simulator, simulated.store, "web-1")

    core = kubernetes.client.CoreV1Api(api_client).list_namespaced_event(NS)
    failed = [e for e in core.items if e.reason == "ProvisioningFailed"]
    assert len(failed) == 1
    assert failed[0].type == "Warning"
    assert failed[0].involved_object.kind == "Machine" and failed[0].involved_object.name == "web-1"
    assert failed[0].reporting_component == "machine-controller"
    assert 'MachineProvider "missing-provider" not found' in failed[0].message

    new = kubernetes.client.EventsV1Api(api_client).list_namespaced_event(NS)
    same = [e for e in new.items if e.metadata.name == failed[0].metadata.name]
    assert same and same[0].regarding.kind == "Machine" and same[0].reporting_controller == "machine-controller"
    assert same[0].note == failed[0].message
    # Provisioning is recorded too, as a Normal event before the failure.
    assert {e.reason for e in new.items if e.regarding.name == "web-1"} == {"Provisioning", "ProvisioningFailed"}

    pod = workloads.pod_name("machine-controller")
    log = kubernetes.client.CoreV1Api(api_client).read_namespaced_pod_log(pod, workloads.CONTROLLER_NAMESPACE)
    last = log.splitlines()[-1]
    assert "\tERROR\tmachine-controller\tReconciler error\t" in last and '"name": "web-1"' in last


def test_a_repeated_event_is_counted_not_duplicated(simulated):
    regarding = {"apiVersion": "vitistack.io/v1alpha1", "kind": "Machine", "name": "m", "namespace": NS, "uid": "u1"}
    first = workloads.record_event(simulated.store, regarding, "Warning", "Flaky", "again", "machine-controller")
    second = workloads.record_event(simulated.store, regarding, "Warning", "Flaky", "again", "machine-controller")
    assert first == second
    core = simulated.store.get("v1", "Event", first, NS)
    new = simulated.store.get("events.k8s.io/v1", "Event", first, NS)
    assert core["count"] == 2 and new["series"]["count"] == 2 and new["deprecatedCount"] == 2


def test_controllers_are_deployments_with_pods_in_vitistack_system(simulated, tmp_path):
    _, kubeconfig = client_for(simulated, tmp_path)
    out = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "get", "deploy,pods", "-n", "vitistack-system", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    names = set(out.stdout.split())
    assert {"deployment.apps/vitistack-controller", "deployment.apps/machine-controller"} <= names
    assert f"pod/{workloads.pod_name('machine-controller')}" in names
    # The guide's own command works against it.
    logs = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "logs", "-n", "vitistack-system", "deployment/machine-controller"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert logs.returncode == 0 and "starting manager" in logs.stdout


def test_pod_log_tail_and_follow(simulated, tmp_path):
    api_client, _ = client_for(simulated, tmp_path)
    core = kubernetes.client.CoreV1Api(api_client)
    pod = workloads.pod_name("vitistack-controller")
    book = simulated.server.logbook
    for i in range(5):
        book.write(workloads.CONTROLLER_NAMESPACE, pod, "manager", f"line {i}")
    tail = core.read_namespaced_pod_log(pod, workloads.CONTROLLER_NAMESPACE, tail_lines=2)
    assert tail.splitlines() == ["line 3", "line 4"]

    response = core.read_namespaced_pod_log(
        pod, workloads.CONTROLLER_NAMESPACE, follow=True, tail_lines=1, _preload_content=False
    )
    received = []

    def read():
        for chunk in response.stream(64):
            received.extend(chunk.decode().splitlines())
            if "later" in received:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.3)
    book.write(workloads.CONTROLLER_NAMESPACE, pod, "manager", "later")
    reader.join(5)
    response.close()
    assert received == ["line 4", "later"]


def test_pod_log_errors_are_statuses(simulated, tmp_path):
    api_client, _ = client_for(simulated, tmp_path)
    core = kubernetes.client.CoreV1Api(api_client)
    pod = workloads.pod_name("vitistack-controller")
    with pytest.raises(kubernetes.client.ApiException) as wrong:
        core.read_namespaced_pod_log(pod, workloads.CONTROLLER_NAMESPACE, container="nope")
    assert wrong.value.status == 400 and "container nope is not valid" in wrong.value.body
    with pytest.raises(kubernetes.client.ApiException) as missing:
        core.read_namespaced_pod_log("no-such-pod", workloads.CONTROLLER_NAMESPACE)
    assert missing.value.status == 404


def review(
    api_client, user, verb, resource, namespace, name="", group="vitistack.io", groups=("system:serviceaccounts",)
):
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": list(groups),
            "resourceAttributes": {
                "verb": verb,
                "group": group,
                "resource": resource,
                "namespace": namespace,
                "name": name,
            },
        },
    }
    return kubernetes.client.AuthorizationV1Api(api_client).create_subject_access_review(body).status


def test_subject_access_reviews_follow_the_stored_roles_and_bindings(sandbox, tmp_path):
    api_client, kubeconfig = client_for(sandbox, tmp_path)
    user = "system:serviceaccount:ops:reader"
    assert review(api_client, user, "get", "machineproviders", "shared").allowed is False

    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    kubernetes.client.CoreV1Api(api_client).create_namespace({"metadata": {"name": "shared"}})
    rbac.create_namespaced_role(
        "shared",
        {
            "metadata": {"name": "read-providers"},
            "rules": [{"apiGroups": ["vitistack.io"], "resources": ["machineproviders"], "verbs": ["get"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        "shared",
        {
            "metadata": {"name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "ops"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-providers"},
        },
    )
    allowed = review(api_client, user, "get", "machineproviders", "shared", "p1")
    assert allowed.allowed is True and 'RoleBinding "reader/shared"' in allowed.reason
    # Only that verb, that resource, that namespace.
    assert review(api_client, user, "delete", "machineproviders", "shared").allowed is False
    assert review(api_client, user, "get", "machines", "shared").allowed is False
    assert review(api_client, user, "get", "machineproviders", "other").allowed is False

    def can_i(namespace):
        return subprocess.run(
            [KUBECTL, "--kubeconfig", str(kubeconfig), "auth", "can-i", "get", "machineproviders.vitistack.io/p1"]
            + ["-n", namespace, f"--as={user}"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()

    assert can_i("shared") == "yes"
    assert can_i("other") == "no"


def test_a_review_without_a_subject_is_invalid(sandbox, tmp_path):
    api_client, _ = client_for(sandbox, tmp_path)
    with pytest.raises(kubernetes.client.ApiException) as invalid:
        review(api_client, "", "get", "machines", NS, groups=())
    assert invalid.value.status == 422 and "at least one of user or group" in invalid.value.body


def test_the_installed_controllers_may_read_vitistack_objects_everywhere(simulated, tmp_path):
    api_client, _ = client_for(simulated, tmp_path)
    assert review(api_client, CONTROLLER_SA, "get", "machineproviders", "anywhere", "x").allowed is True
    assert review(api_client, CONTROLLER_SA, "delete", "machineproviders", "anywhere", "x").allowed is False
