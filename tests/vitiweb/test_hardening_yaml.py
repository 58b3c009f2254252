"""The one YAML reader for text from outside (issue 16, findings 1, 2, 10 and 12): bombs refused, errors located.

Every refusal must come before the expanded tree exists: the memory peak is
measured with tracemalloc and held under the issue's 50 MB.
"""

import tracemalloc

import pytest
import yaml

from vitiweb import safeyaml
from vitiweb.manifests import parse_stream


def laughs(levels: int = 9, width: int = 10) -> str:
    """The "billion laughs": each anchor is ``width`` aliases of the previous one (10**9 nodes in 370 bytes)."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def nested_maps(depth: int) -> str:
    return "".join("  " * level + f"k{level}:\n" for level in range(depth)) + "  " * depth + "leaf: 1\n"


def peak_memory_of(call) -> int:
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def refusal(text, **kwargs) -> safeyaml.YamlError:
    with pytest.raises(safeyaml.YamlError) as caught:
        safeyaml.load_all(text, "bomb.yaml", **kwargs)
    return caught.value


@pytest.mark.parametrize(
    "text, says",
    [
        pytest.param(laughs(), "too large: more than 100,000 nodes once aliases are expanded", id="billion-laughs"),
        pytest.param("a: &a [*a]\n", "refers to a node that contains it (a cycle)", id="cyclic-alias"),
        pytest.param("a: &a {b: *a}\n", "refers to a node that contains it (a cycle)", id="cyclic-map-alias"),
        pytest.param("[" * 2000, "not valid YAML", id="2000-brackets"),
        pytest.param("[" * 500 + "]" * 500, "nested deeper than 64 levels", id="500-closed-brackets"),
        pytest.param(nested_maps(300), "nested deeper than 64 levels", id="300-deep-maps"),
        pytest.param("x: " + "*a, " * 10, "undefined alias", id="undefined-alias"),
    ],
)
def test_a_bomb_is_refused_before_it_is_built(text, says):
    assert says in str(refusal(text))
    assert peak_memory_of(lambda: pytest.raises(safeyaml.YamlError, safeyaml.load_all, text)) < 50 * 1024 * 1024


def test_pyyaml_alone_would_expand_the_laughs_which_is_why_the_reader_counts():
    # The same bomb, three levels smaller, through safe_load: the tree is built (1,000 leaves per key).
    small = laughs(levels=3)
    assert yaml.safe_load(small)["a3"][0][0][0] == ["lol"] * 10
    assert safeyaml.load(small)["a3"][0][0][0] == ["lol"] * 10  # small enough: allowed


def test_a_refusal_names_the_source_the_document_the_line_and_the_field_path():
    text = "kind: A\n---\nkind: B\nspec:\n  vpcs:\n  - cidr: 10.0.0.0/16\n    cidr: 10.1.0.0/16\n"
    error = refusal(text)
    assert (error.source, error.document, error.line, error.column) == ("bomb.yaml", 1, 7, 5)
    assert error.path == "spec.vpcs[0].cidr"
    assert str(error) == "bomb.yaml, document 1: spec.vpcs[0].cidr: duplicate key 'cidr' (line 7, column 5)"


def test_duplicate_keys_are_refused_as_the_kubernetes_api_refuses_them():
    assert "duplicate key 'name'" in str(refusal("metadata:\n  name: a\n  name: b\n"))
    # A merge key is not a duplicate: it is how YAML reuses a mapping.
    assert safeyaml.load("base: &b {x: 1}\nthing:\n  <<: *b\n  y: 2\n") == {
        "base": {"x": 1},
        "thing": {"x": 1, "y": 2},
    }


def test_only_json_shaped_values_are_built():
    assert safeyaml.load("when: 2024-01-01\n1: one\ntrue: yes\n") == {"when": "2024-01-01", "1": "one", "true": True}
    for text in ("x: !!binary aGk=", "x: !!set {a: null}", "x: !!python/object:os.system ls", "? [a]\n: b\n"):
        with pytest.raises(safeyaml.YamlError):
            safeyaml.load(text)


def test_size_documents_and_aliases_are_bounded_by_the_limits():
    limits = safeyaml.Limits(max_bytes=100, max_documents=3, max_aliases=2)
    assert "too large: 101 bytes" in str(refusal("#" * 101, limits=limits))
    assert "more than 3 documents" in str(refusal("a: 1\n---\nb: 1\n---\nc: 1\n---\nd: 1\n", limits=limits))
    assert "more than 2 aliases" in str(refusal("a: &a 1\nb: [*a, *a, *a]\n", limits=limits))


def test_the_limits_setting_changes_the_bounds(settings):
    settings.VITIWEB_YAML_LIMITS = {"max_depth": 3}
    assert "nested deeper than 3 levels" in str(refusal("a: {b: {c: {d: 1}}}\n"))


def test_a_budget_is_shared_by_several_texts():
    budget = safeyaml.NodeBudget(50)
    safeyaml.load("[" + ", ".join(["1"] * 30) + "]", budget=budget)
    assert budget.left == 50 - 31
    with pytest.raises(safeyaml.YamlError, match="too large"):
        safeyaml.load("[" + ", ".join(["1"] * 30) + "]", budget=budget)


def test_json_is_read_by_the_same_reader_under_the_same_limits():
    assert safeyaml.load('{"a": [1, {"b": 2}], "c": "d"}') == {"a": [1, {"b": 2}], "c": "d"}
    assert "nested deeper than 64 levels" in str(refusal("[" * 300 + "]" * 300))
    assert "duplicate key 'a'" in str(refusal('{"a": 1, "a": 2}'))  # orjson would keep the last


def test_manifest_files_are_read_through_it():
    documents, errors = parse_stream(laughs(), "fleet.yaml")
    assert documents == [] and [str(e) for e in errors] == [
        "fleet.yaml, document 0: a4[7]: too large: more than 100,000 nodes once aliases are expanded (line 5, column 45)"
    ]
    _, errors = parse_stream("a: 1\na: 2\n", "dup.yaml")
    assert [str(e) for e in errors] == ["dup.yaml, document 0: a: duplicate key 'a' (line 2, column 1)"]


def test_the_crds_and_examples_read_as_before():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in [*sorted((root / "crds").glob("*.yaml")), *sorted((root / "examples").rglob("*.yaml"))]:
        assert safeyaml.load_all(path.read_text(), str(path)) == list(yaml.safe_load_all(path.read_text())), path
