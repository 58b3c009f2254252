"""Kubeconfig text handled in memory: contexts, and the split between secret and shown."""

from __future__ import annotations

import base64
import textwrap

import pytest
import yaml

from vitiweb.kube.errors import KubeconfigError
from vitiweb.kube.kubeconfig import (
    credential_kinds,
    file_references,
    inline_file_references,
    list_contexts,
    merge_kubeconfig,
    minimal_kubeconfig,
    parse_kubeconfig,
    resolve_context,
    split_kubeconfig,
)

FLEET = textwrap.dedent(
    """
    apiVersion: v1
    kind: Config
    current-context: prod
    clusters:
    - name: prod-cluster
      cluster:
        server: https://prod.example:6443
        certificate-authority-data: Q0EtREFUQQ==
        tls-server-name: api.prod.example
    - name: edge-cluster
      cluster:
        server: https://10.0.0.9:6443
        insecure-skip-tls-verify: true
        proxy-url: http://ops:hunter2@proxy.example:3128
        some-future-field: surprise
    users:
    - name: admin
      user:
        client-certificate-data: Q0VSVA==
        client-key-data: S0VZ
    - name: robot
      user:
        token: s3cr3t-token
    - name: cloud
      user:
        exec:
          apiVersion: client.authentication.k8s.io/v1
          command: /usr/local/bin/aws
          args: [eks, get-token]
    - name: legacy
      user:
        username: ops
        password: pa55word
        auth-provider:
          name: oidc
          config: {id-token: abc.def.ghi, client-secret: shh}
    contexts:
    - name: prod
      context: {cluster: prod-cluster, user: admin, namespace: production}
    - name: edge
      context: {cluster: edge-cluster, user: robot}
    - name: cloud
      context: {cluster: prod-cluster, user: cloud}
    """
)

SECRET_VALUES = [
    "Q0EtREFUQQ==",
    "Q0VSVA==",
    "S0VZ",
    "s3cr3t-token",
    "/usr/local/bin/aws",
    "pa55word",
    "abc.def.ghi",
    "shh",
    "hunter2",
    "surprise",
]


def test_contexts_are_listed_in_file_order_with_their_server_and_the_current_one_marked():
    contexts = list_contexts(FLEET)
    assert [c.name for c in contexts] == ["prod", "edge", "cloud"]
    prod = contexts[0]
    assert (prod.cluster, prod.user, prod.namespace, prod.server, prod.current) == (
        "prod-cluster",
        "admin",
        "production",
        "https://prod.example:6443",
        True,
    )
    assert contexts[1].server == "https://10.0.0.9:6443" and not contexts[1].current


def test_a_dict_is_accepted_as_well_as_yaml_text_and_is_not_modified():
    as_dict = yaml.safe_load(FLEET)
    before = yaml.safe_dump(as_dict)
    assert [c.name for c in list_contexts(as_dict)] == ["prod", "edge", "cloud"]
    split_kubeconfig(as_dict)
    assert yaml.safe_dump(as_dict) == before


def test_split_keeps_no_credential_in_the_public_part():
    split = split_kubeconfig(FLEET)
    public_text = yaml.safe_dump(split.public)
    for value in SECRET_VALUES:
        assert value not in public_text
    secret_text = yaml.safe_dump(split.secret)
    for value in SECRET_VALUES:
        assert value in secret_text


def test_split_keeps_server_urls_names_and_namespaces_public():
    public = split_kubeconfig(FLEET).public
    clusters = {c["name"]: c["cluster"] for c in public["clusters"]}
    assert clusters["prod-cluster"] == {"server": "https://prod.example:6443", "tls-server-name": "api.prod.example"}
    assert clusters["edge-cluster"] == {"server": "https://10.0.0.9:6443", "insecure-skip-tls-verify": True}
    assert [u["name"] for u in public["users"]] == ["admin", "robot", "cloud", "legacy"]
    assert {u["name"]: u["user"] for u in public["users"]}["legacy"] == {"username": "ops"}
    assert public["contexts"][0]["context"]["namespace"] == "production"
    assert public["current-context"] == "prod"


def test_unknown_cluster_and_user_fields_count_as_secret():
    secret = split_kubeconfig(FLEET).secret
    assert secret["clusters"]["edge-cluster"]["some-future-field"] == "surprise"


def test_a_proxy_url_without_credentials_stays_public():
    config = yaml.safe_load(FLEET)
    config["clusters"][1]["cluster"]["proxy-url"] = "http://proxy.example:3128"
    public = split_kubeconfig(config).public
    assert public["clusters"][1]["cluster"]["proxy-url"] == "http://proxy.example:3128"


def test_merging_the_two_halves_gives_back_the_kubeconfig():
    split = split_kubeconfig(FLEET)
    assert merge_kubeconfig(split.public, split.secret) == parse_kubeconfig(FLEET)
    assert split.merged() == parse_kubeconfig(FLEET)


def test_merging_a_secret_for_an_entry_the_public_part_lacks_is_refused():
    split = split_kubeconfig(FLEET)
    public = dict(split.public, users=[])
    with pytest.raises(KubeconfigError, match="user 'admin'"):
        merge_kubeconfig(public, split.secret)


def test_credential_kinds_name_each_users_credentials_without_values():
    kinds = credential_kinds(FLEET)
    assert kinds == {
        "admin": ["client certificate"],
        "robot": ["token"],
        "cloud": ["exec: aws"],
        "legacy": ["password", "auth-provider: oidc"],
    }


def test_resolve_context_defaults_to_the_current_context():
    resolved = resolve_context(FLEET)
    assert (
        resolved.name == "prod"
        and resolved.cluster["server"] == "https://prod.example:6443"
        and resolved.user_name == "admin"
    )
    assert resolve_context(FLEET, "edge").user == {"token": "s3cr3t-token"}


def test_an_unknown_context_is_reported_with_the_contexts_there_are():
    with pytest.raises(
        KubeconfigError, match=r"context 'staging' not found in kubeconfig \(contexts: cloud, edge, prod\)"
    ):
        resolve_context(FLEET, "staging")


def test_a_context_pointing_at_a_missing_cluster_is_reported():
    config = yaml.safe_load(FLEET)
    config["contexts"][0]["context"]["cluster"] = "gone"
    with pytest.raises(KubeconfigError, match="cluster 'gone'"):
        resolve_context(config, "prod")


@pytest.mark.parametrize(
    "text, message",
    [
        ("clusters: [", "not valid YAML at line"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("clusters: {a: b}", "clusters must be a list"),
        ("users:\n- user: {token: x}\n", r"users\[0\] has no name"),
    ],
)
def test_malformed_kubeconfigs_get_a_message_that_says_what_is_wrong(text, message):
    with pytest.raises(KubeconfigError, match=message):
        parse_kubeconfig(text)


def test_yaml_errors_do_not_echo_the_text():
    with pytest.raises(KubeconfigError) as caught:
        parse_kubeconfig("users:\n- name: a\n  user: {token: s3cr3t-token\n")
    assert "s3cr3t" not in str(caught.value)


def test_minimal_kubeconfig_keeps_only_the_chosen_context_its_cluster_and_user():
    minimal = minimal_kubeconfig(FLEET, "edge")
    assert minimal["current-context"] == "edge"
    assert [c["name"] for c in minimal["clusters"]] == ["edge-cluster"]
    assert [u["name"] for u in minimal["users"]] == ["robot"]
    assert [c["name"] for c in minimal["contexts"]] == ["edge"]


def test_file_references_are_found_and_inlined_from_the_base_directory(tmp_path):
    (tmp_path / "ca.crt").write_bytes(b"CA PEM")
    (tmp_path / "token").write_text("file-token\n")
    config = {
        "clusters": [{"name": "c", "cluster": {"server": "https://x", "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": {"tokenFile": "token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }
    assert file_references(config) == ["clusters[c].cluster.certificate-authority", "users[u].user.tokenFile"]
    inlined = inline_file_references(config, tmp_path)
    assert inlined["clusters"][0]["cluster"] == {
        "server": "https://x",
        "certificate-authority-data": base64.b64encode(b"CA PEM").decode(),
    }
    assert inlined["users"][0]["user"] == {"token": "file-token"}
    assert file_references(inlined) == []


def test_inlining_a_missing_file_names_the_field_and_the_path(tmp_path):
    config = {"clusters": [{"name": "c", "cluster": {"server": "https://x", "certificate-authority": "nope.crt"}}]}
    with pytest.raises(KubeconfigError, match=r"clusters\[c\].cluster.certificate-authority: cannot read nope.crt"):
        inline_file_references(config, tmp_path)
