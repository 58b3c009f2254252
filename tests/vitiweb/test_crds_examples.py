"""The CRDs in crds/ type every field of the seed guide, and examples/ holds every manifest of it.

The guide is checked in verbatim as tests/vitiweb/seed/ (the VitiStack CRD integration guide
this project was seeded from), so these tests run, and can fail, on any clone.

Validation here is strict (unknown fields are rejected, as `kubectl apply` does with
server-side field validation), so a passing run proves that every field the guide uses
is declared in a schema, not merely tolerated.
"""

from __future__ import annotations

import copy
import functools
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from vitiweb.schema import validate_against

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "crds"
EXAMPLES_DIR = REPO / "examples"
GROUP = "vitistack.io"
VERSION = "v1alpha1"
GUIDE = Path(__file__).resolve().parent / "seed" / "vitistack-crd-integration-guide.md"
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

EXPECTED_CRDS = {
    "Vitistack": {
        "plural": "vitistacks",
        "shortNames": ["vs"],
        "columns": {
            "Region": ".spec.region",
            "Role": ".spec.role",
            "Phase": ".status.phase",
            "Age": ".metadata.creationTimestamp",
        },
    },
    "MachineProvider": {
        "plural": "machineproviders",
        "shortNames": ["mp"],
        "columns": {
            "Type": ".spec.type",
            "Region": ".spec.region",
            "Phase": ".status.phase",
            "Ready": '.status.conditions[?(@.type=="Ready")].status',
            "Age": ".metadata.creationTimestamp",
        },
    },
    "KubernetesProvider": {
        "plural": "kubernetesproviders",
        "shortNames": ["kp"],
        "columns": {
            "Type": ".spec.type",
            "Version": ".spec.version",
            "Region": ".spec.region",
            "Phase": ".status.phase",
            "Age": ".metadata.creationTimestamp",
        },
    },
    "Machine": {
        "plural": "machines",
        "shortNames": ["vm"],
        "columns": {
            "Provider": ".spec.machineProvider.name",
            "Instance Type": ".spec.instanceType",
            "Phase": ".status.phase",
            "Age": ".metadata.creationTimestamp",
        },
    },
}

EXPECTED_TOTALS = {
    "Vitistack": 7,
    "MachineProvider": 4,
    "KubernetesProvider": 1,
    "Machine": 1,
}

# Files that the guide does not contain as YAML: they write down what its `kubectl create`
# commands create, or namespaces it assumes.
ADDED_EXAMPLE_FILES = {"namespace.yaml", "secret.yaml", "README.md"}


# --------------------------------------------------------------------------- validation


def validate_object(openapi_schema: dict, obj: dict) -> list[str]:
    """'field.path: message' for everything wrong with obj under strict validation; empty when valid."""
    return [str(error) for error in validate_against(openapi_schema, obj, strict=True)]


# --------------------------------------------------------------------------- structural schema

FORBIDDEN_KEYWORDS = {
    "$ref",
    "$schema",
    "id",
    "definitions",
    "dependencies",
    "additionalItems",
    "patternProperties",
}
JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "number": (int, float)}


def structural_problems(node: dict, path: str = "", *, root: bool = True) -> list[str]:
    """Violations of the Kubernetes structural-schema rules (and of our own closedness rule)."""
    problems = []
    here = path or "<root>"
    typ = node.get("type")
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True

    for key in FORBIDDEN_KEYWORDS & node.keys():
        problems.append(f"{here}: forbidden keyword {key}")
    if node.get("uniqueItems") is True:
        problems.append(f"{here}: uniqueItems: true is forbidden")
    if int_or_string:
        if typ is not None:
            problems.append(f"{here}: x-kubernetes-int-or-string must not have a type")
    elif not typ and not preserve:
        problems.append(f"{here}: missing type")
    if root and typ != "object":
        problems.append(f"{here}: root must be type object")
    if "properties" in node and typ != "object":
        problems.append(f"{here}: properties on a non-object")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{here}: properties together with additionalProperties")
    if typ == "array" and not isinstance(node.get("items"), dict):
        problems.append(f"{here}: array without an items schema")
    if "items" in node and typ != "array":
        problems.append(f"{here}: items on a non-array")
    if typ == "object" and not (
        "properties" in node or "additionalProperties" in node or preserve or path == ".metadata"
    ):
        problems.append(f"{here}: object neither typed (properties/additionalProperties) nor explicitly open")
    for req in node.get("required", []):
        if req not in node.get("properties", {}):
            problems.append(f"{here}: required field {req!r} is not a property")
    if "enum" in node and typ in JSON_TYPES:
        for value in node["enum"]:
            if not isinstance(value, JSON_TYPES[typ]) or (typ != "boolean" and isinstance(value, bool)):
                problems.append(f"{here}: enum value {value!r} is not a {typ}")
    if "pattern" in node:
        if typ != "string" and not int_or_string:
            problems.append(f"{here}: pattern on a non-string")
        try:
            re.compile(node["pattern"])
        except re.error as exc:
            problems.append(f"{here}: bad pattern: {exc}")
    if node.get("x-kubernetes-list-type") == "map":
        items = node.get("items", {})
        for key in node.get("x-kubernetes-list-map-keys", []) or [None]:
            if key is None:
                problems.append(f"{here}: list-type map without list-map-keys")
            elif key not in items.get("required", []):
                problems.append(f"{here}: list-map key {key!r} must be required in items")
    if path == ".metadata" and set(node.get("properties", {})) - {
        "name",
        "generateName",
    }:
        problems.append(f"{here}: only name and generateName may be restricted in metadata")

    for name, sub in node.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{name}", root=False)
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], f"{path}.*", root=False)
    if isinstance(node.get("items"), dict):
        problems += structural_problems(node["items"], f"{path}[]", root=False)
    return problems


def schema_at(openapi_schema: dict, json_path: str) -> dict | None:
    """Schema node a simple printer-column JSONPath (`.a.b`, optionally ending in a filter) points at."""
    node = openapi_schema
    for part in re.findall(r"\.([A-Za-z0-9_]+)", json_path.split("[?")[0]):
        if part in node.get("properties", {}):
            node = node["properties"][part]
        elif node.get("type") == "array" and part in node.get("items", {}).get("properties", {}):
            node = node["items"]["properties"][part]
        else:
            return None
    return node


# --------------------------------------------------------------------------- loading


@functools.cache
def load_crds() -> dict[str, dict]:
    crds = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        with path.open() as fh:
            docs = [d for d in yaml.load_all(fh, Loader=YAML_LOADER) if d is not None]
        assert len(docs) == 1, f"{path.name}: expected one document, found {len(docs)}"
        crds[path.name] = docs[0]
    return crds


@functools.cache
def crd_schemas() -> dict[str, dict]:
    """kind -> openAPIV3Schema of its storage version."""
    schemas = {}
    for crd in load_crds().values():
        version = next(v for v in crd["spec"]["versions"] if v["name"] == VERSION)
        schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


@functools.cache
def example_documents() -> list[tuple[str, int, dict]]:
    """(file relative to examples/, index of the document in the file, document)."""
    found = []
    for path in sorted(EXAMPLES_DIR.rglob("*.y*ml")):
        with path.open() as fh:
            for index, doc in enumerate(yaml.load_all(fh, Loader=YAML_LOADER)):
                if doc is not None:
                    found.append((str(path.relative_to(EXAMPLES_DIR)), index, doc))
    return found


def vitistack_documents():
    return [(f, i, d) for f, i, d in example_documents() if d.get("apiVersion", "").startswith(GROUP + "/")]


def find_example(kind: str, name: str) -> dict:
    for _, _, doc in vitistack_documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return copy.deepcopy(doc)
    raise LookupError(f"{kind}/{name} not in examples")


# --------------------------------------------------------------------------- CRD files


def test_one_crd_file_per_kind():
    names = set(load_crds())
    assert names == {f"{spec['plural']}.{GROUP}.yaml" for spec in EXPECTED_CRDS.values()}


@pytest.mark.parametrize("kind", sorted(EXPECTED_CRDS))
def test_crd_shape(kind):
    expected = EXPECTED_CRDS[kind]
    crd = load_crds()[f"{expected['plural']}.{GROUP}.yaml"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{expected['plural']}.{GROUP}"
    spec = crd["spec"]
    assert spec["group"] == GROUP
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": expected["plural"],
        "singular": kind.lower(),
        "shortNames": expected["shortNames"],
        "categories": ["viti"],
    }
    assert [v["name"] for v in spec["versions"]] == [VERSION]
    version = spec["versions"][0]
    assert version["served"] is True and version["storage"] is True
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert {name: c["jsonPath"] for name, c in columns.items()} == expected["columns"]
    assert columns["Age"]["type"] == "date"
    schema = version["schema"]["openAPIV3Schema"]
    for column in columns.values():
        if column["jsonPath"].startswith(".metadata."):
            continue
        assert schema_at(schema, column["jsonPath"]) is not None, f"column {column['name']}: no such field"


@pytest.mark.parametrize("kind", sorted(EXPECTED_CRDS))
def test_crd_schema_is_structural(kind):
    schema = crd_schemas()[kind]
    assert structural_problems(schema) == []
    assert {"apiVersion", "kind", "metadata", "spec", "status"} <= set(schema["properties"])
    assert schema["properties"]["metadata"] == {"type": "object"}


@pytest.mark.parametrize("kind", sorted(EXPECTED_CRDS))
def test_status_is_typed(kind):
    status = crd_schemas()[kind]["properties"]["status"]
    props = status["properties"]
    assert props["phase"]["type"] == "string"
    assert props["message"]["type"] == "string"
    assert props["observedGeneration"]["type"] == "integer"
    condition = props["conditions"]["items"]
    assert set(condition["properties"]) >= {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
    }
    assert condition["properties"]["status"]["enum"] == ["True", "False", "Unknown"]


def test_open_blocks_are_only_the_pass_through_configs():
    open_paths = []

    def walk(node, path):
        if node.get("x-kubernetes-preserve-unknown-fields"):
            open_paths.append(path)
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    for kind, schema in crd_schemas().items():
        walk(schema, kind)
    assert sorted(open_paths) == [
        "KubernetesProvider.spec.addons[].config",
        "KubernetesProvider.spec.monitoring.alertmanager.config",
    ]


def test_provider_blocks_share_one_schema():
    mp = crd_schemas()["MachineProvider"]["properties"]["spec"]["properties"]
    clouds = ["aws", "azure", "gcp", "openstack", "vsphere"]

    def strip(node):
        return {k: v for k, v in node.items() if k != "description"}

    assert all(strip(mp[c]) == strip(mp["aws"]) for c in clouds)
    assert set(mp["type"]["enum"]) >= set(clouds)

    kp = crd_schemas()["KubernetesProvider"]["properties"]["spec"]["properties"]
    distributions = kp["type"]["enum"]
    assert {"eks", "aks", "gke", "rke2", "k3s", "talos"} <= set(distributions)
    assert all(strip(kp[d]) == strip(kp["eks"]) for d in distributions)


# --------------------------------------------------------------------------- examples


def test_example_totals():
    counts = Counter(doc["kind"] for _, _, doc in vitistack_documents())
    assert dict(counts) == EXPECTED_TOTALS


def test_every_example_document_is_identified():
    seen = Counter()
    for file, index, doc in example_documents():
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), f"{file}#{index}"
        assert doc["metadata"].get("name"), f"{file}#{index}: no metadata.name"
        if doc["kind"] in EXPECTED_CRDS:
            assert doc["apiVersion"] == f"{GROUP}/{VERSION}", f"{file}#{index}"
        seen[
            (
                doc["apiVersion"],
                doc["kind"],
                doc["metadata"].get("namespace", "default"),
                doc["metadata"]["name"],
            )
        ] += 1
    duplicates = [key for key, n in seen.items() if n > 1]
    assert duplicates == []


def test_every_namespace_used_is_created():
    docs = [doc for _, _, doc in example_documents()]
    created = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "Namespace"}
    used = {doc["metadata"]["namespace"] for doc in docs if doc["metadata"].get("namespace")}
    assert used <= created | {"default"}


def test_secret_matches_step_5():
    secrets = [doc for _, _, doc in example_documents() if doc["kind"] == "Secret"]
    assert secrets == [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "aws-credentials", "namespace": "production"},
            "type": "Opaque",
            "stringData": {
                "access-key-id": "AKIAIOSFODNN7EXAMPLE",
                "secret-access-key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            },
        }
    ]


@pytest.mark.parametrize(
    "file,index,doc",
    vitistack_documents(),
    ids=[f"{f}#{i}" for f, i, _ in vitistack_documents()],
)
def test_example_validates_strictly(file, index, doc):
    errors = validate_object(crd_schemas()[doc["kind"]], doc)
    assert errors == [], f"examples/{file} document {index}:\n" + "\n".join(errors)


def test_examples_are_verbatim_from_the_guide():
    guide = GUIDE.read_text()
    for file in sorted(EXAMPLES_DIR.rglob("*.yaml")):
        if file.name in ADDED_EXAMPLE_FILES:
            continue
        assert file.read_text().strip("\n") in guide, f"{file.relative_to(EXAMPLES_DIR)} differs from the guide"


def test_every_manifest_of_the_guide_is_an_example():
    manifests = [
        doc
        for block in re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), re.DOTALL)
        for doc in yaml.safe_load_all(block)
        if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc
    ]
    examples = [doc for _, _, doc in example_documents()]
    missing = [f"{m['kind']}/{m['metadata']['name']}" for m in manifests if m not in examples]
    assert missing == []
    assert len(manifests) == sum(EXPECTED_TOTALS.values()) + 2  # + ServiceMonitor, PrometheusRule


# --------------------------------------------------------------------------- strictness


def test_mistyped_field_is_rejected_with_its_path():
    doc = find_example("Vitistack", "aws-production")
    doc["spec"]["resourceQuotas"]["maxMachines"] = "lots"
    errors = validate_object(crd_schemas()["Vitistack"], doc)
    assert errors == ["spec.resourceQuotas.maxMachines: 'lots' is not of type 'integer'"]


def test_unknown_field_is_rejected_with_its_path():
    doc = find_example("MachineProvider", "aws-ec2-provider")
    doc["spec"]["aws"]["instanceTypes"][0]["cpus"] = 2
    errors = validate_object(crd_schemas()["MachineProvider"], doc)
    assert errors == ["spec.aws.instanceTypes[0].cpus: unknown field"]


@pytest.mark.parametrize(
    "kind,name,mutate,where",
    [
        (
            "Vitistack",
            "secondary-vitistack",
            lambda s: s.update(role="backup"),
            "spec.role",
        ),
        (
            "Vitistack",
            "edge-west",
            lambda s: s["edge"]["connectivity"].update(type="pigeon"),
            "spec.edge.connectivity.type",
        ),
        (
            "MachineProvider",
            "primary-provider",
            lambda s: s["failover"]["targets"][0]["conditions"][0].update(status=False),
            "spec.failover.targets[0].conditions[0].status",
        ),
        (
            "KubernetesProvider",
            "aws-eks-provider",
            lambda s: s["eks"]["nodeGroups"][0]["taints"][0].update(effect="Maybe"),
            "spec.eks.nodeGroups[0].taints[0].effect",
        ),
        (
            "KubernetesProvider",
            "aws-eks-provider",
            lambda s: s["eks"]["nodeGroups"][1].update(capacityType="spot"),
            "spec.eks.nodeGroups[1].capacityType",
        ),
        (
            "Machine",
            "bastion-host",
            lambda s: s["machineProvider"].pop("name"),
            "spec.machineProvider.name",
        ),
        (
            "Machine",
            "bastion-host",
            lambda s: s["labels"].update(team=7),
            "spec.labels.team",
        ),
        (
            "MachineProvider",
            "aws-ec2-provider",
            lambda s: s["aws"]["instanceTypes"][0].update(memory="8 gigs"),
            "spec.aws.instanceTypes[0].memory",
        ),
        (
            "MachineProvider",
            "aws-ec2-provider",
            lambda s: s["healthCheck"].update(interval="soon"),
            "spec.healthCheck.interval",
        ),
        (
            "MachineProvider",
            "aws-ec2-provider",
            lambda s: s["aws"]["networking"]["securityGroups"][0]["rules"][1].update(ports=["30000", "32767"]),
            "spec.aws.networking.securityGroups[0].rules[1].ports",
        ),
    ],
)
def test_invalid_values_are_rejected(kind, name, mutate, where):
    doc = find_example(kind, name)
    mutate(doc["spec"])
    errors = validate_object(crd_schemas()[kind], doc)
    assert errors and all(e.startswith(where + ":") for e in errors), errors


def test_duplicate_list_map_keys_are_rejected():
    doc = find_example("KubernetesProvider", "aws-eks-provider")
    doc["spec"]["eks"]["nodeGroups"][1]["name"] = "system-nodes"
    errors = validate_object(crd_schemas()["KubernetesProvider"], doc)
    assert errors == ["spec.eks.nodeGroups[1]: duplicate entry {'name': 'system-nodes'} (also at index 0)"]


def test_int_or_string_and_open_blocks_accept_what_they_should():
    doc = find_example("MachineProvider", "aws-ec2-provider")
    doc["spec"]["aws"]["networking"]["securityGroups"][0]["rules"][1]["ports"] = 8443
    doc["spec"]["lifecycle"]["updateStrategy"]["maxUnavailable"] = "25%"
    assert validate_object(crd_schemas()["MachineProvider"], doc) == []

    kp = find_example("KubernetesProvider", "aws-eks-provider")
    kp["spec"]["addons"][0]["config"] = {"anything": {"nested": [1, "two"]}}
    kp["spec"]["monitoring"]["alertmanager"]["config"]["route"] = {"receiver": "slack-notifications"}
    assert validate_object(crd_schemas()["KubernetesProvider"], kp) == []


@pytest.mark.parametrize(
    "kind,status",
    [
        (
            "Vitistack",
            {
                "phase": "Ready",
                "machineCount": 3,
                "clusterCount": 1,
                "providerCount": 2,
                "observedGeneration": 4,
            },
        ),
        (
            "MachineProvider",
            {
                "phase": "Ready",
                "machineCount": 5,
                "lastHealthCheckTime": "2024-01-01T00:00:00Z",
                "conditions": [
                    {
                        "type": "ProviderHealthy",
                        "status": "True",
                        "reason": "Reachable",
                        "message": "ok",
                        "lastTransitionTime": "2024-01-01T00:00:00Z",
                        "observedGeneration": 1,
                    }
                ],
            },
        ),
        (
            "KubernetesProvider",
            {
                "phase": "Provisioning",
                "version": "1.24.17",
                "endpoint": "https://api.example:6443",
                "readyNodeGroups": 1,
            },
        ),
        (
            "Machine",
            {
                "phase": "Running",
                "providerID": "aws:///us-west-2a/i-0abc",
                "instanceType": "t3.micro",
                "zone": "us-west-2a",
                "addresses": [{"type": "InternalIP", "address": "10.0.1.5"}],
            },
        ),
    ],
)
def test_controller_status_validates(kind, status):
    doc = find_example(
        kind,
        {
            "Vitistack": "aws-production",
            "MachineProvider": "aws-ec2-provider",
            "KubernetesProvider": "aws-eks-provider",
            "Machine": "bastion-host",
        }[kind],
    )
    doc["status"] = status
    assert validate_object(crd_schemas()[kind], doc) == []
    doc["status"]["conditions"] = [{"type": "Ready", "status": "Maybe"}]
    assert validate_object(crd_schemas()[kind], doc) == [
        "status.conditions[0].status: 'Maybe' is not one of ['True', 'False', 'Unknown']"
    ]
