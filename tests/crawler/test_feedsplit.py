"""Large feeds are cut into documents of whole items and parsed a batch at a time."""

from __future__ import annotations

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
    parts = list(split.parts(text, 3))
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
