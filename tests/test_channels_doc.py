"""docs/CHANNELS.md shows each vendor's message as MRT renders it: the JSON in the doc is what the
real renderer makes of a sample alert (a new pull request), so the doc cannot drift."""

from __future__ import annotations

import json
from typing import Any

import pytest
from doc_blocks import ROOT, read_blocks
from vendor_support import sample_message, schema_problems

from mrt.delivery.vendors import dingtalk, feishu, slack, wecom
from mrt.delivery.vendors.common import card_of

RENDERERS: dict[str, tuple[str, Any, str]] = {
    "DingTalk": ("dingtalk", dingtalk, "dingtalk://TOKEN/"),
    "Feishu": ("feishu", feishu, "feishu://TOKEN"),
    "WeCom": ("wecom", wecom, "wecombot://KEY"),
    "Slack": ("slack", slack, "slack://A/B/C"),
}


def rendered(vendor: str) -> dict[str, Any]:
    _, module, url = RENDERERS[vendor]
    result: dict[str, Any] = module.render(card_of(sample_message()),
                                           module.endpoint(url).mentions)
    return result


DOC_BLOCKS = {
    vendor: block
    for block in read_blocks([ROOT / "docs" / "CHANNELS.md"])
    for vendor in RENDERERS
    if block.marker and f"the {vendor} " in block.marker and "as rendered" in block.marker
}


def test_the_doc_shows_every_vendor() -> None:
    assert set(DOC_BLOCKS) == set(RENDERERS)


@pytest.mark.parametrize("vendor", list(RENDERERS))
def test_the_doc_shows_what_the_renderer_makes(vendor: str) -> None:
    shown = json.loads(DOC_BLOCKS[vendor].body)
    expected = rendered(vendor)
    assert shown == expected, (
        f"docs/CHANNELS.md:{DOC_BLOCKS[vendor].line} is out of date; it should read:\n"
        + json.dumps(expected, ensure_ascii=False, indent=2)
    )
    assert schema_problems(RENDERERS[vendor][0], shown) == []
