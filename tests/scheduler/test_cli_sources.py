"""``wirewatch sources`` as a group: the health table by default, ``import`` and ``export``."""

from __future__ import annotations

from pathlib import Path

import listparser
import pytest
import yaml

from crawler.source_entries import append_entries, new_source_id, render_entries
from tests.cli import wirewatch

SOURCES = """\
# Sources wirewatch polls (hand-written comments must survive an import).
sources:
  # ---------- Taiwan ----------
  - id: bbc-world
    name: Taiwan news in English
    type: rss
    url: https://feeds.example.tw/en.xml
    tags: [taiwan]

  - id: moea-list
    type: html
    url: https://www.moea.gov.tw/news
    selectors: {list: "ul.news li"}

# keep this trailing note
"""

# Shaped like the exports of Feedly / NetNewsWire: folders, text and title, odd entries.
OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="World" title="World">
      <outline type="rss" text="BBC World" title="BBC World"
               xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml" htmlUrl="https://www.bbc.co.uk/news/world"/>
      <outline type="rss" text="Taiwan news (dup)" xmlUrl="https://feeds.example.tw/en.xml"/>
    </outline>
    <outline text="IP" title="IP">
      <outline type="rss" text="經濟部智慧財產局" xmlUrl="https://www.tipo.gov.tw/rss.xml"/>
      <outline type="rss" text="IPWatchdog" xmlUrl="https://ipwatchdog.com/feed/"/>
      <outline type="rss" text="IPWatchdog again" xmlUrl="https://ipwatchdog.com/feed/"/>
    </outline>
    <outline text="A folder without feeds"/>
  </body>
</opml>
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    (root / "watchlists").mkdir(parents=True)
    (root / "wirewatch.yaml").write_text(f"database_url: sqlite:///{tmp_path / 'ww.db'}\n")
    (root / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    (tmp_path / "subs.opml").write_text(OPML, encoding="utf-8")
    return root


def test_sources_without_subcommand_is_the_health_table(config: Path) -> None:
    done = wirewatch(config, "sources")
    assert done.returncode == 0, done.stderr
    assert "Sources (times in" in done.stdout and "moea-list" in done.stdout


def test_import_prints_entries_with_unique_valid_ids(config: Path) -> None:
    done = wirewatch(config, "sources", "import", str(config.parent / "subs.opml"))
    assert done.returncode == 0, done.stderr
    entries = yaml.safe_load("\n".join(line[2:] for line in done.stdout.splitlines()))
    assert [e["url"] for e in entries] == [
        "https://feeds.bbci.co.uk/news/world/rss.xml",
        "https://www.tipo.gov.tw/rss.xml",
        "https://ipwatchdog.com/feed/",
    ]
    # "bbc-world" is taken by an existing source; a Chinese title falls back to the URL
    assert [e["id"] for e in entries] == ["bbc-world-2", "tipo-gov-tw-rss", "ipwatchdog"]
    assert entries[1]["name"] == "經濟部智慧財產局" and entries[0]["tags"] == ["World"]
    assert "1 feed(s) already in sources.yaml, skipped" in done.stderr
    assert (config / "sources.yaml").read_text(encoding="utf-8") == SOURCES


def test_import_write_appends_keeping_comments_and_passes_check(config: Path) -> None:
    done = wirewatch(config, "sources", "import", str(config.parent / "subs.opml"), "--write")
    assert done.returncode == 0, done.stderr
    text = (config / "sources.yaml").read_text(encoding="utf-8")
    assert text.startswith(SOURCES.split("# keep this")[0].rstrip())
    assert "# keep this trailing note" in text and "# ---------- Taiwan ----------" in text
    checked = wirewatch(config, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ids = [s["id"] for s in yaml.safe_load(text)["sources"]]
    assert ids == ["bbc-world", "moea-list", "bbc-world-2", "tipo-gov-tw-rss", "ipwatchdog"]
    # importing again adds nothing
    again = wirewatch(config, "sources", "import", str(config.parent / "subs.opml"), "--write")
    assert again.returncode == 0 and "already in sources.yaml" in again.stderr
    assert (config / "sources.yaml").read_text(encoding="utf-8") == text


def test_import_rejects_what_is_not_opml(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.opml"
    bad.write_text("<html><body>not a subscription list</body>", encoding="utf-8")
    done = wirewatch(config, "sources", "import", str(bad))
    assert done.returncode == 1 and "error:" in done.stderr and "Traceback" not in done.stderr
    missing = wirewatch(config, "sources", "import", str(tmp_path / "nope.opml"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_export_is_opml_that_imports_back(config: Path) -> None:
    done = wirewatch(config, "sources", "export")
    assert done.returncode == 0, done.stderr
    parsed = listparser.parse(done.stdout)
    assert not parsed.bozo
    assert [(f.url, f.title) for f in parsed.feeds] == [
        ("https://feeds.example.tw/en.xml", "Taiwan news in English")
    ]
    assert parsed.feeds[0].tags == ["taiwan"]
    assert "1 html/sitemap source(s) have no OPML form" in done.stderr


def test_new_ids_are_valid_and_unique() -> None:
    taken = {"feed", "news"}
    ids = [new_source_id(t, "https://www.example.com/rss.xml", taken) for t in ("", "", "News")]
    assert ids == ["example-com-rss", "example-com-rss-2", "news-2"]
    long_id = new_source_id("x" * 200, "https://e.com/", set())
    assert len(long_id) <= 60
    assert new_source_id("!!!", "https://例え.jp/", set()) == "jp"
    assert new_source_id("經濟部", "https://例え/", set()) == "feed"


@pytest.mark.parametrize(
    "text",
    [
        "sources: []\n",
        "# only a comment\n",
        "",
        "sources:\n",
        "settings: 1\nsources:\n  - {id: a, type: rss, url: 'https://a/'}\n",
    ],
)
def test_append_entries_to_any_shape_of_sources_file(text: str) -> None:
    block = render_entries([({"id": "new", "type": "rss", "url": "https://n/"}, "1 item")])
    data = yaml.safe_load(append_entries(text, block))
    assert data["sources"][-1] == {"id": "new", "type": "rss", "url": "https://n/"}
    with pytest.raises(ValueError, match="block-style"):
        append_entries("sources: [{id: a, type: rss, url: 'https://a/'}]\n", block)
