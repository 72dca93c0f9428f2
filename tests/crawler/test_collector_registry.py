"""Collectors register themselves by their source model's ``type`` names."""

from __future__ import annotations

from typing import Literal

import pytest

from crawler.collectors import COLLECTORS
from crawler.collectors.base import Collector
from crawler.sources import SOURCE_TYPES, FeedSource, _SourceBase


def test_every_source_type_has_the_collector_for_its_model() -> None:
    assert set(COLLECTORS) == set(SOURCE_TYPES)
    for name, collector in COLLECTORS.items():
        assert collector.source is SOURCE_TYPES[name]


def test_a_new_collector_registers_under_its_models_type_names() -> None:
    class PodcastSource(_SourceBase):
        type: Literal["podcast", "vodcast"]

    class PodcastCollector(Collector):
        source = PodcastSource

    try:
        assert type(COLLECTORS["podcast"]) is PodcastCollector
        assert COLLECTORS["vodcast"] is COLLECTORS["podcast"]
    finally:
        del COLLECTORS["podcast"], COLLECTORS["vodcast"]


def test_a_second_collector_for_a_taken_type_is_refused() -> None:
    before = dict(COLLECTORS)
    with pytest.raises(TypeError, match="'rss' already has a collector"):

        class OtherFeedCollector(Collector):
            source = FeedSource

    assert before == COLLECTORS
