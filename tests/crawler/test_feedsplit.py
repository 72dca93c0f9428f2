"""Large feeds are cut into documents of whole items and parsed a batch at a time."""

from __future__ import annotations

import pytest

from crawler import parse
from crawler.feedsplit import split_items
from crawler.parse import open_feed, parse_feed

HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Big</title>'
    "<link>https://big.example/</link>"
)


def _feed(n: int, extra: str = "") -> bytes:
    items = "".join(
        f"<item><title>Item {i}</title><link>/p/{i}</link><dc:creator>A{i}</dc:creator>"
        f"<description><![CDATA[<p>see <item>not an item</item> {i}</p>]]></description>"
        f"<!-- <item> in a comment --></item>"
        for i in range(n)
    )
    return (HEAD + items + extra + "</channel></rss>").encode()


def test_split_finds_top_level_items_only() -> None:
    text = _feed(3, "<item/>").decode()
    split = split_items(text)
    assert split is not None and len(split.spans) == 4
    parts = [split.document(text, items) for items in split.batches(text, 3)]
    assert len(parts) == 2 and all(p.startswith(HEAD[:30]) for p in parts)
    assert all(p.endswith("</channel></rss>") for p in parts)


def test_unbalanced_items_are_not_split() -> None:
    assert split_items(HEAD + "<item><title>open") is None
    assert split_items(HEAD + "</item>") is None
    assert split_items(HEAD + "<item><![CDATA[ never closed") is None
    assert split_items(HEAD) is None


def test_batches_equal_one_whole_parse() -> None:
    body = _feed(1_203)
    whole = parse_feed(body, url="https://big.example/feed", source_id="s")
    stream = open_feed(body, url="https://big.example/feed", source_id="s", batch_size=100)
    batches = list(stream.batches())
    assert [len(b) for b in batches] == [100] * 12 + [3]
    assert [e for b in batches for e in b] == whole.entries
    assert stream.title == whole.title == "Big" and stream.link == "https://big.example/"
    first = whole.entries[0]
    assert (first.url, first.author) == ("https://big.example/p/0", "A0")
    assert first.summary == "see not an item 0"


def test_ill_formed_parts_keep_their_entries() -> None:
    body = _feed(250).replace(b"<title>Item 7</title>", b"<title>Item 7 &bogus;</title>")
    stream = open_feed(body, url="https://big.example/feed", source_id="s", batch_size=100)
    entries = [e for b in stream.batches() for e in b]
    assert len(entries) == 250 and stream.bozo


def test_a_feed_cut_by_the_size_cap_keeps_its_complete_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = _feed(300)
    cut = len(body) - 700  # inside the last item or two
    monkeypatch.setattr(parse, "MAX_FEED_BYTES", cut)
    stream = open_feed(body, url="https://big.example/feed", source_id="s", batch_size=100)
    entries = [e for b in stream.batches() for e in b]
    assert 290 <= len(entries) < 300
    assert [e.title for e in entries] == [f"Item {i}" for i in range(len(entries))]
    assert stream.bozo and "entries beyond it unread" in stream.bozo
    text = body[:cut].decode("utf-8", "ignore")
    split = split_items(text, partial=True)
    assert split is not None and split.tail_start is None


def test_stored_items_of_a_large_feed_are_counted_not_parsed() -> None:
    items = "".join(f"<item><guid> g{i} </guid><link>/p/{i}</link></item>" for i in range(250))
    plain = "<item><guid>g-&amp;-1</guid><link>/amp</link></item>"  # an entity: parsed anyway
    body = (HEAD + items + plain + "</channel></rss>").encode()
    asked: list[list[str]] = []

    def known(guids: list[str]) -> set[str]:
        asked.append(guids)
        return {g for g in guids if g != "g7"}  # all stored but g7

    stream = open_feed(
        body, url="https://big.example/feed", source_id="s", batch_size=100, known_guids=known
    )
    assert stream.title == "Big"  # the metadata still comes from the first document
    entries = [e for b in stream.batches() for e in b]
    assert [e.guid for e in entries] == ["g7", "g-&-1"]
    assert dict(stream.skipped) == {"duplicate: same guid": 249}
    assert [len(a) for a in asked] == [100, 100, 50]
