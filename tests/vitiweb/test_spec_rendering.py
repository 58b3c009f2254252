"""Spec values as readable markup: a long list or mapping is cut at MAX_ITEMS, and says so."""

import pytest

from vitiweb.templatetags.vitiweb_ui import MAX_ITEMS, spec_cell, spec_value

LONG_MAPPING = {f"key-{i:03}": f"value-{i:03}" for i in range(MAX_ITEMS + 1)}
LONG_LIST = [{"name": f"item-{i:03}", "size": i} for i in range(MAX_ITEMS + 1)]


@pytest.mark.parametrize(
    "render,value,last",
    [
        (spec_value, LONG_MAPPING, "value-200"),
        (spec_cell, LONG_MAPPING, "value-200"),
        (spec_value, LONG_LIST, "item-200"),
        (spec_value, {"nested": LONG_MAPPING}, "value-200"),
    ],
)
def test_what_is_cut_is_counted_and_pointed_to(render, value, last):
    html = str(render(value))
    assert "value-199" in html or "item-199" in html
    assert last not in html
    assert "… 1 more (see the YAML)" in html


def test_nothing_is_said_when_nothing_is_cut():
    assert "more" not in str(spec_value(dict(list(LONG_MAPPING.items())[:MAX_ITEMS])))
