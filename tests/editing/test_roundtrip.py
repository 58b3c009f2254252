"""Every example manifest survives its form: loaded, posted back, rendered, it is the same object."""

import pytest
import yaml

from tests.editing.conftest import form_post_data, vitistack_examples
from vitiweb.editing.forms import form_class_for
from vitiweb.editing.operations import to_yaml
from vitiweb.editing.schemaform import MISSING, flatten, spec_node, unflatten

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("obj", vitistack_examples())
def test_an_example_typed_into_its_form_renders_back_to_itself(obj):
    # From scratch (no base object): the form alone must carry every field with its type.
    form = form_class_for(obj["kind"])(form_post_data(obj["kind"], obj))
    assert form.manifest == obj
    assert yaml.safe_load(to_yaml(form.manifest)) == obj
    assert form.problems() == []


@pytest.mark.parametrize("obj", vitistack_examples())
def test_an_example_opened_for_editing_and_posted_unchanged_is_unchanged(obj):
    form_class = form_class_for(obj["kind"])
    opened = form_class(base=obj)
    posted = form_class(dict(opened.data), base=obj)
    assert posted.manifest == obj
    assert list(posted.manifest) == list(obj)  # key order kept too


def test_fields_the_form_does_not_know_are_kept():
    obj = {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "Vitistack",
        "metadata": {
            "name": "s",
            "namespace": "production",
            "finalizers": ["x/y"],
            "uid": "u-1",
            "resourceVersion": "7",
        },
        "spec": {
            "region": "eu",
            "futureField": {"a": 1},
            "networking": {
                "vpcs": [
                    {"name": "a", "cidr": "10.0.0.0/16", "tag": "keep-a"},
                    {"name": "b", "cidr": "10.1.0.0/16", "tag": "keep-b"},
                ]
            },
        },
        "status": {"phase": "Ready"},
    }
    form_class = form_class_for("Vitistack")
    data = form_class(base=obj).data
    # Remove the first VPC and change the second's CIDR: the second keeps its unknown "tag".
    for key in [k for k in data if k.startswith("spec.networking.vpcs.0.")]:
        del data[key]
    data["spec.networking.vpcs.1.cidr"] = "10.2.0.0/16"
    manifest = form_class(data, base=obj).manifest
    assert manifest["spec"]["futureField"] == {"a": 1}
    assert manifest["spec"]["networking"]["vpcs"] == [{"name": "b", "cidr": "10.2.0.0/16", "tag": "keep-b"}]
    assert manifest["metadata"]["finalizers"] == ["x/y"]
    # Server-set metadata and status are never sent back.
    assert (
        "uid" not in manifest["metadata"] and "resourceVersion" not in manifest["metadata"] and "status" not in manifest
    )


def test_untouched_values_keep_their_exact_types():
    obj = {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "MachineProvider",
        "metadata": {"name": "p"},
        "spec": {
            "type": "aws",
            "lifecycle": {"updateStrategy": {"maxUnavailable": "1", "maxSurge": 2}},
            "healthCheck": {"enabled": False},
        },
    }
    form_class = form_class_for("MachineProvider")
    assert form_class(form_class(base=obj).data, base=obj).manifest == obj


def test_every_field_of_every_schema_is_in_its_form():
    """The form is generated from the CRD: every schema path has a field or a group."""
    from vitiweb.kinds import KINDS
    from vitiweb.models import Cluster
    from vitiweb.shapes import shapes_of_kind

    # A cluster that serves the published shape, as its discovery says (a cluster-scoped Vitistack).
    published = Cluster(name="published", discovered_kinds={"Vitistack": {"installed": True, "scope": "Cluster"}})
    for kind in KINDS:
        for shape in shapes_of_kind(kind):
            form = form_class_for(kind)(cluster=published if shape == "published" else None)
            assert form.shape == shape, kind
            seen = _paths(spec_node("vitistack.io/v1alpha1", kind, shape), "spec", [])
            rendered = {b.name for s in form.bound_sections() for b in s.bounds}
            top = {p.split(".")[1].removesuffix("[]") for p in seen if p.count(".") >= 1}
            assert {name.split(".")[1] for name in rendered} == top, (kind, shape)


def _paths(node, path, seen):
    seen.append(path)
    for child in node.children:
        _paths(child, f"{path}.{child.key}", seen)
    if node.widget == "list":
        _paths(node.item, f"{path}[]", seen)
    return seen


def test_metadata_recommended_labels_and_annotations_have_their_own_fields():
    form_class = form_class_for("Vitistack")
    obj = {
        "apiVersion": "vitistack.io/v1alpha1",
        "kind": "Vitistack",
        "metadata": {
            "name": "production-us-west-2-vitistack",
            "namespace": "production",
            "labels": {"vitistack.io/environment": "production", "app": "x"},
            "annotations": {"vitistack.io/contact": "platform@example.com"},
        },
        "spec": {"region": "us-west-2"},
    }
    form = form_class(base=obj)
    assert form.data["metadata.label.environment"] == "production"
    assert form.data["metadata.labels"] == "app=x"
    assert form.data["metadata.annotation.contact"] == "platform@example.com"
    form.data["metadata.label.team"] = "platform"
    form._built = None
    assert form.manifest["metadata"]["labels"] == {
        "vitistack.io/environment": "production",
        "app": "x",
        "vitistack.io/team": "platform",
    }


def test_flatten_and_unflatten_agree_on_a_kubernetes_provider():
    from tests.editing.conftest import example

    obj = example("01-single-cloud/kubernetes-provider.yaml")
    node = spec_node("vitistack.io/v1alpha1", "KubernetesProvider")
    assert unflatten(node, flatten(node, obj["spec"], "spec", {}), "spec", MISSING) == obj["spec"]
