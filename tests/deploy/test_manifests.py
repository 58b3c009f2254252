"""The kustomize manifests render, and every workload in them keeps the invariants of a safe deployment."""

import re

import pytest

from tests.deploy.manifests import (
    containers,
    of_kind,
    pod_specs,
    production_command,
    readme_read_rules,
    render,
    role_rules,
)

RENDERED = ["base", "overlays/example"]


@pytest.mark.parametrize("folder", RENDERED)
def test_every_pod_runs_as_non_root_with_a_read_only_root_and_no_capabilities(folder):
    specs = pod_specs(render(folder))
    assert set(specs) == {"vitiweb-web", "vitiweb-sync", "vitiweb-worker", "vitiweb-beat", "vitiweb-migrate"}
    for name, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in containers(spec):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert context["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert context["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert not context.get("privileged"), (name, container["name"])
            # Writable places are volumes: the image's root filesystem is read-only.
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert {"/tmp", "/var/lib/vitiweb"} <= mounts, (name, container["name"])


@pytest.mark.parametrize("folder", RENDERED)
def test_every_container_has_resources_and_a_pinned_image(folder):
    for name, spec in pod_specs(render(folder)).items():
        for container in containers(spec):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), (name, container["name"])
            assert {"cpu", "memory"} <= set(resources["limits"]), (name, container["name"])
            image = container["image"]
            assert re.search(r":[0-9][\w.-]*$|@sha256:[0-9a-f]{64}$", image), f"{name}: unpinned image {image}"
            assert "latest" not in image, image


def test_one_image_serves_every_role_by_its_command():
    specs = pod_specs(render("overlays/example"))
    images = {c["image"] for spec in specs.values() for c in containers(spec)}
    assert len(images) == 1
    commands = {name: [c["command"] for c in containers(spec)] for name, spec in specs.items()}
    # The web role runs the README's production command (its environment comes from the ConfigMap).
    readme = [word for word in production_command() if "=" not in word]
    assert commands["vitiweb-web"] == [readme]
    assert commands["vitiweb-sync"][0][:3] == ["python", "manage.py", "sync"]
    assert commands["vitiweb-worker"][0][:4] == ["celery", "-A", "vitiweb", "worker"]
    assert commands["vitiweb-beat"][0][:4] == ["celery", "-A", "vitiweb", "beat"]
    assert commands["vitiweb-migrate"] == [
        ["python", "manage.py", "migrate", "--no-input"],
        ["python", "manage.py", "add_cluster", "in-cluster", "--in-cluster"],
    ]


def test_replicas_probes_and_disruption_budgets_per_role():
    documents = render("overlays/example")
    deployments = of_kind(documents, "Deployment")
    assert deployments["vitiweb-web"]["spec"]["replicas"] == 2
    assert deployments["vitiweb-sync"]["spec"]["replicas"] == 2
    assert deployments["vitiweb-beat"]["spec"]["replicas"] == 1
    assert deployments["vitiweb-beat"]["spec"]["strategy"]["type"] == "Recreate"  # never two beats

    web = deployments["vitiweb-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    sync = deployments["vitiweb-sync"]["spec"]["template"]["spec"]["containers"][0]
    assert "/tmp/sync-heartbeat" in sync["command"] and "/tmp/sync-heartbeat" in " ".join(
        sync["livenessProbe"]["exec"]["command"]
    )
    worker = deployments["vitiweb-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert "ping" in " ".join(worker["livenessProbe"]["exec"]["command"])

    budgets = of_kind(documents, "PodDisruptionBudget")
    covered = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] for b in budgets.values()}
    assert covered == {"web", "sync"}
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name


def test_the_service_ingress_and_network_policy_reach_the_web_port_only():
    documents = render("overlays/example")
    service = of_kind(documents, "Service")["vitiweb-web"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "web"
    ingress = of_kind(documents, "Ingress")["vitiweb"]
    # Live updates are websockets held open for hours: the proxy must not cut them after 60 s.
    assert int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "vitiweb-web"
    policy = of_kind(documents, "NetworkPolicy")["vitiweb"]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert [port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]] == [8000]


def test_database_and_redis_come_from_a_secret_never_from_plain_config():
    documents = render("overlays/example")
    config = of_kind(documents, "ConfigMap")["vitiweb"]["data"]
    assert not {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "VITIWEB_CREDENTIALS_KEYS"} & set(config)
    assert config["DEBUG"] == "0"
    secret = next(iter(of_kind(documents, "Secret").values()))
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "VITIWEB_CREDENTIALS_KEYS"} <= set(secret["data"])
    for name, spec in pod_specs(documents).items():
        for container in containers(spec):
            assert {"secretRef": {"name": secret["metadata"]["name"]}} in container["envFrom"], name


def test_the_read_cluster_role_holds_exactly_the_verbs_the_readme_lists():
    documents = render("base")
    roles = of_kind(documents, "ClusterRole")
    assert set(roles) == {"vitiweb-read"}  # the write role is optional: not in the base
    assert role_rules(roles["vitiweb-read"]) == readme_read_rules()
    binding = of_kind(documents, "ClusterRoleBinding")["vitiweb-read"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "vitiweb"}]


def test_the_optional_write_role_is_separate_and_grants_no_reading():
    roles = of_kind(render("overlays/example"), "ClusterRole")
    write = role_rules(roles["vitiweb-write"])
    assert {verb for _, _, verb in write} <= {"create", "patch", "update", "delete"}
    assert ("", "secrets", "get") not in write
    assert role_rules(roles["vitiweb-read"]) == readme_read_rules()
