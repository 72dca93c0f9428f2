from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from crawler.parse import FeedError, decode_xml, parse_feed, parse_sitemap

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
     xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">
<channel><title>Example &amp; News</title><link>https://example.com/</link><ttl>30</ttl>
<language>zh-TW</language>
<item><title>First &lt;b&gt;story&lt;/b&gt;</title><link> /news/1?utm_source=rss </link>
  <guid isPermaLink="false">id-1</guid>
  <description>&lt;p&gt;Summary &lt;script&gt;x()&lt;/script&gt;one&lt;/p&gt;</description>
  <content:encoded><![CDATA[<p>Body para one.</p><p>Body para two.</p>]]></content:encoded>
  <dc:creator>Jane Roe</dc:creator><category>Energy</category><category>Energy</category>
  <pubDate>Tue, 17 Feb 2026 10:37:09 EST</pubDate></item>
<item><title>Naive date</title><link>https://example.com/2</link>
  <dc:date>2026-02-17 08:00</dc:date></item>
<item><title>FeedBurner</title><link>http://feedproxy.google.com/~r/ex/~3/abc/story</link>
  <feedburner:origLink>https://example.com/3</feedburner:origLink></item>
<item><title>No link, no guid</title></item>
</channel></rss>"""


def test_rss_entries() -> None:
    tz = ZoneInfo("Asia/Taipei")
    result = parse_feed(RSS.encode(), url="https://example.com/feed.xml", source_id="s", tz=tz)
    assert result.title == "Example & News"
    assert result.link == "https://example.com/"
    assert result.ttl_minutes == 30 and result.bozo is None and result.encoding == "utf-8"
    first, naive, burner, nothing = result.entries
    # An entry with neither link nor guid comes out as read; storage counts it as skipped.
    assert nothing.title == "No link, no guid" and nothing.url == "" and nothing.guid is None
    assert first.url == "https://example.com/news/1?utm_source=rss"
    assert first.title == "First story"  # escaped markup in RSS titles is HTML in practice
    assert first.summary == "Summary one"
    assert first.body == "Body para one.\n\nBody para two."
    assert first.author == "Jane Roe" and first.tags == ("Energy",) and first.guid == "id-1"
    assert first.published_at == datetime(2026, 2, 17, 15, 37, 9, tzinfo=UTC)
    assert first.language == "zh-tw" and first.date_rule == "feed"
    assert naive.published_at == datetime(2026, 2, 17, 0, 0, tzinfo=UTC)  # 08:00 Taipei
    assert burner.url == "https://example.com/3"


def test_atom_xml_base_and_language() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://ex.org/blog/">
    <title type="html">A &amp;lt;i&amp;gt;feed</title>
    <entry xml:lang="de"><id>urn:x:1</id><link href="post/1"/><title>T</title>
    <updated>2026-01-02T03:04:05-0500</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hallo</p></div></content>
    </entry></feed>"""
    result = parse_feed(atom, url="https://ex.org/feed", source_id="s", language="en")
    (entry,) = result.entries
    assert entry.url == "https://ex.org/blog/post/1"
    assert entry.language == "de" and entry.body == "Hallo"
    assert entry.published_at == datetime(2026, 1, 2, 8, 4, 5, tzinfo=UTC)
    assert result.title == "A <i>feed"  # type="html": the markup was itself escaped


def test_every_entry_and_bozo_keeps_entries() -> None:
    items = "".join(
        f"<item><link>http://e.com/{i}</link><title>t&bogus;</title></item>" for i in range(20)
    )
    body = f"<rss version='2.0'><channel>{items}</channel>".encode()  # unclosed, bad entity
    result = parse_feed(body, url="http://e.com/f", source_id="s")
    assert result.bozo and len(result.entries) == 20 and result.skipped == {}


@pytest.mark.parametrize(
    "body",
    [b"<!DOCTYPE html><html><body><p>hi</p></body></html>", b"just text", b'{"a": 1}'],
)
def test_not_a_feed(body: bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(body, url="http://e.com/", source_id="s")


def test_sitemap_rejected_by_parse_feed() -> None:
    with pytest.raises(FeedError, match="sitemap"):
        parse_feed(b"<urlset><url><loc>http://e.com/</loc></url></urlset>", url="x", source_id="s")


def test_empty_document_is_bozo_not_error() -> None:
    result = parse_feed(b"<!-- nothing -->", url="http://e.com/", source_id="s")
    assert result.entries == [] and result.bozo


def test_json_feed() -> None:
    body = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "J",
      "items": [{"id": "1", "url": "/a", "title": "A", "content_html": "<p>x</p>",
                 "date_published": "2026-01-01T00:00:00Z", "tags": ["t"]}]}"""
    result = parse_feed(body, url="https://j.com/feed.json", source_id="s")
    assert result.entries[0].url == "https://j.com/a" and result.entries[0].body == "x"


def test_decode_xml_rfc3023() -> None:
    latin = '<?xml version="1.0" encoding="iso-8859-1"?><rss/>'.encode("latin-1")
    assert decode_xml(latin)[1] == "iso-8859-1"
    assert decode_xml(latin, "application/xml; charset=utf-8")[1] == "utf-8"
    assert decode_xml(latin, "text/xml")[1] == "us-ascii"
    utf8 = '<?xml version="1.0" encoding="utf-8"?><rss><title>é</title></rss>'.encode()
    text, _, problem = decode_xml(utf8, "text/xml")
    assert "é" in text and problem  # us-ascii failed, declaration used
    bom = b"\xef\xbb\xbf<rss/>"
    assert decode_xml(bom)[0] == "<rss/>"
    big5 = "<rss><channel><title>中華民國總統府新聞稿</title></channel></rss>".encode("big5")
    text, _, problem = decode_xml(big5)
    assert "中華民國總統府新聞稿" in text and problem


def test_google_news_sitemap_and_index() -> None:
    body = """<?xml version="1.0" encoding="UTF-8"?>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
            xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
      <url><loc>https://n.com/a</loc><news:news><news:publication><news:name>N</news:name>
        <news:language>zh-tw</news:language></news:publication>
        <news:publication_date>2026-03-01T08:00:00+08:00</news:publication_date>
        <news:title>標題</news:title><news:keywords>a, b</news:keywords></news:news></url>
      <url><loc>/b</loc><lastmod>2026-02-01</lastmod></url>
    </urlset>""".encode()
    result = parse_sitemap(body, url="https://n.com/sitemap.xml", source_id="s")
    a, b = result.entries
    assert a.title == "標題" and a.language == "zh-tw" and a.tags == ("a", "b")
    assert a.published_at == datetime(2026, 3, 1, tzinfo=UTC) and a.date_rule == "sitemap:news"
    assert b.url == "https://n.com/b" and b.date_rule == "sitemap:lastmod"
    text = parse_sitemap(b"https://n.com/1\nhttps://n.com/2\n", url="https://n.com/", source_id="s")
    assert [e.url for e in text.entries] == ["https://n.com/1", "https://n.com/2"]
