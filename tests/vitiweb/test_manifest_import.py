"""import_manifests loads manifest folders as read-only sources, all or nothing."""

import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from machines.models import Machine
from providers.models import KubernetesProvider, MachineProvider, NodeGroup
from stacks.models import Vitistack
from vitiweb.models import Cluster, JournalEntry, Reference

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path):
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    return target


def counts():
    return (
        Vitistack.objects.count(),
        MachineProvider.objects.count(),
        KubernetesProvider.objects.count(),
        Machine.objects.count(),
    )


def test_examples_yield_every_object_of_the_guide(capsys):
    call_command("import_manifests", str(EXAMPLES), "--source", "examples")
    assert counts() == (7, 4, 1, 1)
    source = Cluster.objects.get(name="examples")
    assert source.read_only and source.state == Cluster.State.CONNECTED
    assert NodeGroup.objects.filter(provider__name="aws-eks-provider").count() == 2
    out = capsys.readouterr().out
    assert "ServiceMonitor is not a VitiStack kind" in out


def test_every_relationship_of_the_guide_is_a_reference_and_the_dangling_ones_are_marked():
    call_command("import_manifests", str(EXAMPLES), "--source", "examples")
    dangling = set(
        Reference.objects.exclude(state=Reference.State.RESOLVED).values_list(
            "relation", "target_namespace", "target_name", "target_entry"
        )
    )
    assert dangling == {
        ("secret", "production", "grafana-admin", ""),  # the guide never creates it
        ("instance-type", "production", "aws-ec2-provider", "t3.micro"),  # not offered by the provider
        ("failover-target", "production", "secondary-provider", ""),  # lives in "default"
        ("machine-provider", "production", "aws-west-provider", ""),
        ("kubernetes-provider", "production", "eks-west-provider", ""),
        ("machine-provider", "production", "azure-east-provider", ""),
        ("kubernetes-provider", "production", "aks-east-provider", ""),
        ("edge-location", "edge-system", "edge-west", ""),  # edge-west lives in namespace edge-west
        ("edge-location", "edge-system", "edge-east", ""),
        ("child", "eu-region", "eu-vitistack", ""),
        ("child", "asia-region", "asia-vitistack", ""),
    }
    resolved = set(Reference.objects.filter(state=Reference.State.RESOLVED).values_list("relation", "target_name"))
    assert {
        ("machine-provider", "aws-ec2-provider"),
        ("kubernetes-provider", "aws-eks-provider"),
        ("node-group-provider", "aws-ec2-provider"),
        ("instance-type", "aws-ec2-provider"),
        ("machine-image", "aws-ec2-provider"),
        ("secret", "aws-credentials"),
        ("replication-target", "secondary-vitistack"),
        ("primary", "primary-vitistack"),
        ("management", "central-management"),
        ("child", "us-vitistack"),
        ("parent", "global-vitistack"),
        ("shared-with", "primary-vitistack"),
        ("shared-with", "secondary-vitistack"),
    } <= resolved
    target = Reference.objects.get(relation="replication-target")
    assert target.attributes == {"mode": "async", "rpo": "1h", "rto": "30m", "region": "us-east-1", "provider": "aws"}


def test_reimporting_the_same_folder_changes_nothing(folder):
    call_command("import_manifests", str(folder), "--source", "git")
    journal = JournalEntry.objects.count()
    call_command("import_manifests", str(folder), "--source", "git")
    assert JournalEntry.objects.count() == journal
    assert counts() == (7, 4, 1, 1)


def test_a_changed_document_updates_in_place_and_is_journaled(folder):
    call_command("import_manifests", str(folder), "--source", "git")
    stack = Vitistack.objects.get(name="aws-production")
    path = folder / "01-single-cloud" / "vitistack.yaml"
    path.write_text(path.read_text().replace("maxMachines: 100", "maxMachines: 150"))
    call_command("import_manifests", str(folder), "--source", "git")
    stack.refresh_from_db()
    assert stack.max_machines == 150
    entry = JournalEntry.objects.filter(name="aws-production", action="updated").get()
    assert entry.changes == [{"path": "spec.resourceQuotas.maxMachines", "old": 100, "new": 150}]
    assert entry.changed_by == "import:git"


def test_a_document_removed_from_the_folder_is_removed_from_the_source(folder):
    call_command("import_manifests", str(folder), "--source", "git")
    (folder / "01-single-cloud" / "machine.yaml").unlink()
    call_command("import_manifests", str(folder), "--source", "git")
    assert not Machine.objects.exists()
    assert not Reference.objects.filter(source_kind="Machine").exists()


def test_sources_are_independent(folder):
    call_command("import_manifests", str(folder), "--source", "one")
    call_command("import_manifests", str(folder / "01-single-cloud"), "--source", "two")
    assert Vitistack.objects.filter(name="aws-production").count() == 2
    call_command("import_manifests", str(folder / "02-multi-cloud-dr"), "--source", "two")
    assert Vitistack.objects.count() == 7 + 2


def assert_nothing_imported():
    assert counts() == (0, 0, 0, 0)
    assert not Cluster.objects.exists()


def test_bad_yaml_names_the_file_and_line_and_imports_nothing(folder):
    (folder / "broken.yaml").write_text("apiVersion: v1\nkind: [unclosed\n")
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_manifests", str(folder), "--source", "git")
    assert_nothing_imported()


def test_error_messages_name_file_document_and_field(folder, capsys):
    (folder / "bad.yaml").write_text(
        "apiVersion: vitistack.io/v1alpha1\nkind: Machine\nmetadata:\n  name: ok\nspec:\n"
        "  machineProvider: {name: p}\n---\n"
        "apiVersion: vitistack.io/v1alpha1\nkind: Vitistack\nmetadata: {}\nspec: {}\n---\n"
        "apiVersion: vitistack.io/v1alpha1\nkind: Vitistack\nmetadata:\n  name: typo\n"
        "spec:\n  resourceQuotas:\n    maxMachines: lots\n"
    )
    with pytest.raises(CommandError):
        call_command("import_manifests", str(folder), "--source", "git")
    err = capsys.readouterr().err
    assert f"{folder / 'bad.yaml'}, document 1: metadata.name: required value" in err
    assert f"{folder / 'bad.yaml'}, document 2: spec.resourceQuotas.maxMachines:" in err
    assert "is not of type 'integer'" in err
    assert_nothing_imported()


def test_a_document_without_kind_is_rejected(folder, capsys):
    (folder / "nokind.yaml").write_text("apiVersion: v1\nmetadata:\n  name: x\n")
    with pytest.raises(CommandError):
        call_command("import_manifests", str(folder), "--source", "git")
    assert f"{folder / 'nokind.yaml'}, document 0: kind: required value" in capsys.readouterr().err
    assert_nothing_imported()


def test_duplicate_objects_are_rejected(folder, capsys):
    shutil.copy(folder / "01-single-cloud" / "machine.yaml", folder / "machine-copy.yaml")
    with pytest.raises(CommandError):
        call_command("import_manifests", str(folder), "--source", "git")
    assert "Machine production/bastion-host is already defined in" in capsys.readouterr().err
    assert_nothing_imported()


def test_a_failed_reimport_leaves_the_previous_import_intact(folder):
    call_command("import_manifests", str(folder), "--source", "git")
    (folder / "broken.yaml").write_text("{")
    with pytest.raises(CommandError):
        call_command("import_manifests", str(folder), "--source", "git")
    assert counts() == (7, 4, 1, 1)


def test_fields_the_dashboard_does_not_model_are_kept(folder):
    (folder / "extra.yaml").write_text(
        "apiVersion: vitistack.io/v1alpha1\nkind: Machine\nmetadata:\n  name: extra\n  namespace: production\n"
        "  finalizers: [vitistack.io/cleanup]\nspec:\n  machineProvider: {name: aws-ec2-provider}\n"
        "  futureField: {nested: true}\n"
    )
    call_command("import_manifests", str(folder), "--source", "git")
    manifest = Machine.objects.get(name="extra").as_manifest()
    assert manifest["spec"]["futureField"] == {"nested": True}
    assert manifest["metadata"]["finalizers"] == ["vitistack.io/cleanup"]


def test_a_live_cluster_cannot_be_overwritten_by_an_import(folder, make_cluster, capsys):
    make_cluster("prod")
    with pytest.raises(CommandError):
        call_command("import_manifests", str(folder), "--source", "prod")
    assert "prod is a live cluster, not a manifest source" in capsys.readouterr().err
