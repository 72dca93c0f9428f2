"""Article-page dates: each metadata convention real publishers use, and the text fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from lxml import html as lxml_html

from crawler.extract import extract_article
from crawler.page_dates import page_date

TAIPEI = ZoneInfo("Asia/Taipei")
BODY = (
    "<article><h1>Ministry signs trade pact</h1>"
    + "<p>The ministry said on Monday it had signed a memorandum on patent licensing with "
    "several companies, covering semiconductors and green energy technology.</p>" * 4 + "</article>"
)


def _page(head: str = "", body: str = BODY) -> str:
    title = "<title>Ministry signs trade pact</title>"
    return f"<html><head>{title}{head}</head><body>{body}</body></html>"


def _date(html: str, tz: ZoneInfo | None = None) -> tuple[datetime | None, str | None]:
    return page_date(lxml_html.document_fromstring(html), tz)


SEPT_24 = datetime(2018, 9, 24, 19, 42, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("html", "rule"),
    [
        (
            _page('<meta name="OriginalPublicationDate" content="2018/09/24 19:42:40">'),
            "meta[originalpublicationdate]",
        ),
        (
            _page('<meta property="rnews:datePublished" content="2018-09-24T19:42:40Z">'),
            "meta[rnews:datepublished]",
        ),
        (
            _page(
                """<meta name="parsely-page" content='{"title": "Ministry signs trade pact",
                "link": "https://news.example/a", "pub_date": "2018-09-24T19:42:40Z",
                "section": "Business"}'>"""
            ),
            "meta[parsely-page]",
        ),
        (
            _page(
                '<script type="application/ld+json">{"@context": "https://schema.org", '
                '"@type": "NewsArticle", "headline": "Ministry signs trade pact", '
                '"datePublished": 1537818160, "dateModified": 1537900000}</script>'
            ),
            "json-ld",
        ),
        (
            _page(
                '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": '
                '[{"@type": "WebSite", "name": "News"}, {"@type": "NewsArticle", '
                '"datePublished": "2018-09-24T19:42:40+00:00"}]}</script>'
            ),
            "json-ld",
        ),
        (
            _page(
                body='<p class="byline">By Staff <time>24 Sep 2018 19:42:40 GMT</time></p>' + BODY
            ),
            "time",
        ),
        (
            _page(
                body='<div class="meta"><span class="pubdate">2018-09-24 19:42:40</span></div>'
                + BODY
            ),
            "class",
        ),
        (
            _page(
                body='<span itemprop="datePublished" content="2018-09-24T19:42:40Z">Sept. 24</span>'
                + BODY
            ),
            "itemprop",
        ),
    ],
)
def test_publisher_date_conventions(html: str, rule: str) -> None:
    assert _date(html) == (SEPT_24, rule)


def test_lying_meta_date_falls_through_to_the_next_rule() -> None:
    html = _page(
        '<meta property="article:published_time" content="2099-01-01T00:00:00Z">'
        '<meta name="pubdate" content="1970-01-01">',
        body='<time datetime="2018-09-24T19:42:40Z">Monday</time>' + BODY,
    )
    assert _date(html) == (SEPT_24, "time[datetime]")


def test_labelled_text_date_on_a_taiwan_government_page() -> None:
    html = _page(
        body="<div class='list'><a href='/n1'>相關新聞</a> 114年1月2日</div>"
        "<div class='info'>發布日期：115年3月16日</div><div class='text'>經濟部今日與美國企業"
        "簽署合作備忘錄，涵蓋專利授權。</div>"
    )
    assert _date(html, TAIPEI) == (datetime(2026, 3, 15, 16, tzinfo=UTC), "text")


def test_first_text_date_under_the_headline_of_a_chinese_portal_page() -> None:
    html = _page(
        body="<table><tr><td><h1>“洛克菲勒”去世</h1></td></tr><tr><td>BUSINESS.SOHU.COM "
        "2004年7月16日08:19 [ 黄宇 ]</td></tr><tr><td>劳伦斯·洛克菲勒出生于1910年5月26日。"
        "</td></tr></table><ul><li>2005-1-1 相关文章</li></ul>"
    )
    got, rule = _date(html, ZoneInfo("Asia/Shanghai"))
    assert got == datetime(2004, 7, 16, 0, 19, tzinfo=UTC)
    assert rule == "text:first"


def test_script_only_dates_are_ignored() -> None:
    html = _page(
        body="<script>var d = '2018-09-24';</script><noscript>2018-09-25</noscript>" + BODY
    )
    assert _date(html) == (None, None)


def test_extract_article_reports_the_winning_rule() -> None:
    html = _page('<meta name="OriginalPublicationDate" content="2018/09/24 19:42:40">')
    article = extract_article(html, url="https://news.example/a")
    assert article is not None
    assert article.published_at == SEPT_24
    assert article.date_rule == "meta[originalpublicationdate]"
