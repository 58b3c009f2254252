"""Label selectors are read as Kubernetes reads them."""

import pytest
from django.core.exceptions import ValidationError

from vitiweb.filters import parse_label_selector


@pytest.mark.parametrize(
    "text, expected",
    [
        ("vitistack.io/environment=production", [("=", "vitistack.io/environment", ["production"])]),
        ("a==b", [("=", "a", ["b"])]),
        ("a!=b", [("!=", "a", ["b"])]),
        ("a", [("exists", "a", [])]),
        ("!a", [("!exists", "a", [])]),
        ("tier in (web, api),env notin (dev)", [("in", "tier", ["web", "api"]), ("notin", "env", ["dev"])]),
        ("a=", [("=", "a", [""])]),
        ("", []),
    ],
)
def test_parse(text, expected):
    assert parse_label_selector(text) == expected


@pytest.mark.parametrize("text", ["a===b", "=b", "a in ()", "a in (b", "<script>"])
def test_malformed_selectors_are_rejected(text):
    with pytest.raises(ValidationError):
        parse_label_selector(text)
