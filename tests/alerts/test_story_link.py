"""Alert messages link to the console's story page when ``http.public_url`` is set."""

from __future__ import annotations

import pytest

from alerts.render import AlertItem, Renderer
from tests.alerts.test_render import EVIL

ITEM = AlertItem(**{**EVIL.__dict__, "story_id": 42})


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_story_link_in_every_format(fmt: str) -> None:
    with_link = Renderer(public_url="https://wirewatch.example/").immediate(ITEM, fmt).body
    assert "https://wirewatch.example/stories/42" in with_link
    digest = Renderer(public_url="https://wirewatch.example")
    parts = digest.digest_parts("tw-ip", [ITEM], fmt)
    assert "https://wirewatch.example/stories/42" in parts[0].body
    assert "/stories/42" not in Renderer().immediate(ITEM, fmt).body


def test_no_link_without_a_story() -> None:
    body = Renderer(public_url="https://w.example").immediate(EVIL, "text").body
    assert "/stories/" not in body
