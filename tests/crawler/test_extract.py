from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from crawler.extract import extract_article, extract_listing

PARA = "<p>" + "This is a sentence of the article body with enough words. " * 8 + "</p>"


def _page(head: str = "", body: str = "") -> str:
    return f"<html lang='en'><head><title>Headline</title>{head}</head><body>{body}</body></html>"


def test_article_meta_date_and_text() -> None:
    html = _page(
        '<meta property="article:published_time" content="2026-03-01T10:00:00+08:00">',
        f"<nav>Home | Sport</nav><article><h1>Headline</h1>{PARA}{PARA}</article>",
    )
    article = extract_article(html, url="https://e.com/a")
    assert article is not None and "sentence of the article" in article.text
    assert article.published_at == datetime(2026, 3, 1, 2, tzinfo=UTC)
    assert article.date_rule == "meta[article:published_time]"
    assert article.language == "en"


def test_article_roc_text_date_and_gb2312_bytes() -> None:
    body = (
        "<div><p>發布日期：115-03-19</p>"
        + "<p>"
        + "經濟部今日發布新聞稿，說明相關政策內容。" * 10
        + "</p></div>"
    )
    html = (
        '<html><head><meta charset="big5"><title>新聞</title></head><body>'
        + body
        + "</body></html>"
    ).encode("big5")
    article = extract_article(html, url="https://moea.gov.tw/n", tz=ZoneInfo("Asia/Taipei"))
    assert article is not None and "經濟部今日發布新聞稿" in article.text
    assert article.published_at == datetime(2026, 3, 18, 16, tzinfo=UTC)


def test_article_json_ld_date() -> None:
    html = _page(
        '<script type="application/ld+json">{"@graph": [{"@type": "NewsArticle",'
        ' "datePublished": "2025-12-24T12:00:00Z"}]}</script>',
        f"<article>{PARA}{PARA}</article>",
    )
    article = extract_article(html, url="https://e.com/a")
    assert article.published_at == datetime(2025, 12, 24, 12, tzinfo=UTC)
    assert article.date_rule == "json-ld"


def test_article_none_for_empty() -> None:
    assert extract_article(b"", url="https://e.com/") is None
    assert extract_article("<html><body></body></html>", url="https://e.com/") is None


LISTING = """<html><head><base href="https://gov.tw/news/"></head><body>
<ul class="list">
  <li><a href=" detail.aspx?id=1
     ">新聞一</a><span class="d">115-03-19</span></li>
  <li><a href="detail.aspx?id=2">新聞二</a> 2026/03/18</li>
  <li><a href="detail.aspx?id=1">duplicate</a></li>
  <li><a href="/other/x">not news</a></li>
  <li>no link</li>
</ul>
<div id="cards"><a class="card" href="https://gov.tw/news/detail.aspx?id=3" title="T3"></a></div>
</body></html>"""


def test_listing_css() -> None:
    tz = ZoneInfo("Asia/Taipei")
    entries = extract_listing(
        LISTING,
        url="https://gov.tw/index.html",
        list_selector="ul.list li",
        date_selector="span.d",
        link_pattern=r"detail\.aspx",
        tz=tz,
    ).entries
    assert [e.url for e in entries] == [
        "https://gov.tw/news/detail.aspx?id=1",
        "https://gov.tw/news/detail.aspx?id=2",
    ]
    assert entries[0].title == "新聞一" and entries[0].date_rule == "listing:selector"
    assert entries[0].published_at == datetime(2026, 3, 18, 16, tzinfo=UTC)
    assert entries[1].published_at == datetime(2026, 3, 17, 16, tzinfo=UTC)
    assert entries[1].date_rule == "listing:text" and entries[0].source_id == ""


def test_listing_xpath_anchor_items() -> None:
    entries = extract_listing(
        LISTING.encode(), url="https://gov.tw/", list_selector="//div[@id='cards']/a"
    ).entries
    assert [(e.url, e.title) for e in entries] == [("https://gov.tw/news/detail.aspx?id=3", "T3")]


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"list_selector": "li.news"}, "selector 'li.news' matched 0 items"),
        (
            {"list_selector": "ul.list li", "link_selector": "a.missing"},
            "selector 'ul.list li' matched 5 items but none had a link",
        ),
        (
            {"list_selector": "ul.list li", "link_pattern": r"/press/"},
            "selector 'ul.list li' matched 5 items; link_pattern '/press/' kept none of their "
            "4 links",
        ),
        ({"list_selector": "ul.list li"}, None),
    ],
)
def test_listing_explains_an_empty_page(kwargs: dict[str, str], problem: str | None) -> None:
    listing = extract_listing(LISTING, url="https://gov.tw/index.html", **kwargs)
    assert listing.problem(kwargs["list_selector"], kwargs.get("link_pattern")) == problem


@pytest.mark.parametrize("link", ["a::attr(href)", ".//a/@href", "a"])
def test_listing_item_without_link_text_has_no_title_not_its_url(link: str) -> None:
    page = """<ul><li><a href="/n/1.html"><img src="x.png"></a> 2026-03-18</li>
    <li><a href="/n/2.html">  </a></li><li><a href="/n/3.html">Third</a></li></ul>"""
    entries = extract_listing(
        page, url="https://gov.tw/", list_selector="li", link_selector=link
    ).entries
    assert [(e.url, e.title) for e in entries] == [
        ("https://gov.tw/n/1.html", ""),
        ("https://gov.tw/n/2.html", ""),
        ("https://gov.tw/n/3.html", "Third"),
    ]
