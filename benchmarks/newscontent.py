"""Deterministic generated news content for the local news server.

A `NewsSite` owns hosts, feeds and items and renders RSS 2.0, Atom, HTML listing pages,
article pages, a home page, robots.txt and a news sitemap. It does no I/O, so benchmarks can
render feeds without starting a server.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from benchmarks.vocabulary import vocabulary, zipf_cum

#: Fixed anchor for the initial items, so content is identical from run to run.
DEFAULT_BASE_TIME = datetime(2026, 2, 18, 9, 0, tzinfo=UTC)

_EN_SUBJECTS = (
    "Taiwan",
    "TSMC",
    "The Ministry of Economic Affairs",
    "The European Commission",
    "Japan",
    "The US Trade Representative",
    "A Hsinchu chipmaker",
    "Foxconn",
    "MediaTek",
    "The Intellectual Property Office",
    "South Korea",
    "A Tainan solar start-up",
)
_EN_PARTNERS = (
    "the United States",
    "Japan",
    "the European Union",
    "the United Kingdom",
    "Germany",
    "the Netherlands",
    "India",
    "Canada",
    "Australia",
    "a Silicon Valley licensing firm",
)
_EN_EVENTS = (
    "signs MOU on semiconductor supply chains with {p}",
    "announces patent licensing deal with {p}",
    "files patent infringement suit against a rival from {p}",
    "extends trade talks with {p}",
    "tightens export controls on chip tools bound for {p}",
    "wins standard-essential patent ruling in dispute with {p}",
    "signs memorandum of understanding on green hydrogen with {p}",
    "reaches cross-licensing agreement covering 5G patents with {p}",
)
_EN_SENTENCES = (
    "Officials said the agreement covers research, licensing and joint investment.",
    "Analysts expect the move to ease pressure on supply chains over the coming quarters.",
    "The deal follows months of negotiations between government agencies and industry groups.",
    "A spokesperson declined to give financial terms but called the talks constructive.",
    "Patent attorneys said the ruling could shape royalty rates across the industry.",
    "The memorandum sets up a working group that will report back within six months.",
    "Shares of the companies involved rose in early trading after the announcement.",
    "Critics warned that the terms leave smaller licensees with little room to negotiate.",
    "The ministry said further details would be published on its website next week.",
    "Trade experts noted that similar arrangements have been signed with other partners.",
)
_ZH_SUBJECTS = ("臺灣", "經濟部", "智慧財產局", "台積電", "工研院", "國科會", "鴻海", "聯發科")
_ZH_PARTNERS = ("美國", "日本", "歐盟", "英國", "德國", "荷蘭", "印度", "加拿大")
_ZH_EVENTS = (
    "與{p}簽署半導體供應鏈合作備忘錄",
    "宣布與{p}廠商達成專利授權協議",
    "對{p}競爭對手提起專利侵權訴訟",
    "與{p}展開新一輪經貿談判",
    "用MOU深化與{p}的技術合作",
    "與{p}簽署綠能合作MOU",
    "與{p}業者達成5G專利交互授權",
)
_ZH_SENTENCES = (
    "官員表示，協議內容涵蓋研發、授權及共同投資。",
    "分析師預期，此舉將在未來幾季紓解供應鏈壓力。",
    "雙方經過數月協商，政府機關與產業公會均參與其中。",
    "發言人未透露財務條件，但形容會談富有建設性。",
    "專利律師指出，這項判決可能影響整個產業的權利金水準。",
    "備忘錄將成立工作小組，並於六個月內提出報告。",
    "相關公司股價在消息公布後早盤走高。",
    "批評者警告，相關條款讓小型被授權人幾乎沒有議價空間。",
    "經濟部表示，更多細節將於下週公布在官方網站。",
)
_AUTHORS = ("Lin Mei-hua", "James Carter", "Chen Wei", "Sarah Okafor", "王大明", "陳怡君")
_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Item:
    """One news item: what a feed entry, a listing entry and an article page show."""

    feed_id: int
    seq: int
    guid: str
    title: str
    summary: str
    body: str
    url: str
    link: str
    published: datetime
    lang: str
    author: str
    syndicated_from: str | None = None


@dataclass
class Feed:
    """A feed (and its listing page, its section) on one host."""

    feed_id: int
    host: int
    fmt: str
    lang: str
    url: str
    listing_url: str
    items: list[Item] = field(default_factory=list)
    archive: list[Item] = field(default_factory=list)
    version: int = 0
    modified: datetime = DEFAULT_BASE_TIME
    generated: bool = False
    next_seq: int = 1


def http_date(when: datetime) -> str:
    """RFC 7231 date for headers and RSS pubDate."""
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _slug(title: str) -> str:
    slug = _SLUG_STRIP.sub("-", title.lower()).strip("-")[:60].strip("-")
    return slug or "story"


#: The default of :class:`NewsSite`'s ``templated``.
TEMPLATED = False

# Varied text: news-like sentences whose words come from a Zipf-weighted vocabulary (common
# English words first, then generated ones; common Chinese characters), so two unrelated
# items share about as many word 5-shingles and character trigrams as unrelated real news
# does. The templated sentences above, drawn two at a time for a summary, made one item in
# 50 share a band key with any other (real feed entries: 2 pairs in 685,035), and so made
# a first pass of "distinct" articles a pass of near-duplicates (benchmarks/RESULTS.md).
_EN_COMMON = (
    "the of to and a in that said is for on with as was by it at from its be has have "
    "will are an this which were but not they after more would been their new also year "
    "government officials company percent market trade patent licensing agreement talks "
    "industry minister chips supply research week month court ruling exports firms deal "
    "investment billion million could over about than first other into last two three "
    "state policy rules office plans board group data sales growth prices energy costs "
    "report review filing case rights tariff tariffs share shares quarter analysts told "
    "while since under before between against during including however according added"
)
_ZH_COMMON = (
    "的是在不了有和人這中大為上個國我以要他時來用們生到作地於出就分對成會可主發年動同工也能"
    "下過子說產種面而方後多定行學法所民得經十三之進著等部度家電力裡如水化高自二理起小物現實"
    "加量都兩體制機當使點從業本去把性好應開它合還因由其些然前外天政四日那社義事平形相全表間"
    "樣與關各重新線內數正心反你明看原又麼利比或但質氣第向道命此變條只沒結解問意建月公無系軍"
    "很情者最立代想已通並提直題黨程展五果料象員革位入常文總次品式活設及管特件長求老頭基資邊"
    "流路級少圖山統接知較將組見計別她手角期根論運農指幾九區強放決西被幹做必戰先回則任取據處"
    "協議專利授權貿易談判供應鏈半導體投資市場政府官員企業合作備忘錄簽署出口管制晶片研究報告"
)


_EN_WORDS, _EN_CUM = vocabulary(6_000, tuple(_EN_COMMON.split()))
_ZH_CHARS = list(dict.fromkeys(_ZH_COMMON))
_ZH_CUM = zipf_cum(len(_ZH_CHARS))


def _sentence(rng: random.Random, lang: str) -> str:
    if lang.startswith("zh"):
        return "".join(rng.choices(_ZH_CHARS, cum_weights=_ZH_CUM, k=rng.randint(18, 36))) + "。"
    words = rng.choices(_EN_WORDS, cum_weights=_EN_CUM, k=rng.randint(12, 24))
    return " ".join(words).capitalize() + "."


def _text(rng: random.Random, lang: str, varied: bool = True) -> tuple[str, str, str]:
    zh = lang.startswith("zh")
    if zh:
        subject, partner = rng.choice(_ZH_SUBJECTS), rng.choice(_ZH_PARTNERS)
        title = subject + rng.choice(_ZH_EVENTS).format(p=partner)
    else:
        subject, partner = rng.choice(_EN_SUBJECTS), rng.choice(_EN_PARTNERS)
        title = f"{subject} {rng.choice(_EN_EVENTS).format(p=partner)}"
    joiner = "" if zh else " "
    sentences = _ZH_SENTENCES if zh else _EN_SENTENCES

    def some(k: int) -> str:
        if varied:
            return joiner.join(_sentence(rng, lang) for _ in range(k))
        return joiner.join(rng.sample(sentences, k))

    summary = some(2)
    paragraphs = [some(rng.randint(2, 4)) for _ in range(rng.randint(3, 6))]
    return title, summary, "\n\n".join([summary, *paragraphs])


class NewsSite:
    """Hosts, feeds and items, plus renderers; no I/O and no locking (the caller locks)."""

    def __init__(
        self,
        bases: list[str],
        feeds_per_host: int = 10,
        items_per_feed: int = 20,
        seed: int = 0,
        base_time: datetime = DEFAULT_BASE_TIME,
        templated: bool | None = None,
    ) -> None:
        """``templated``: items built from the ten fixed sentences (unrelated items share
        whole sentences: a worst case for story assignment) instead of varied text; None
        follows :data:`TEMPLATED` (``python -m benchmarks --text templated``)."""
        self.bases = bases
        self.templated = TEMPLATED if templated is None else templated
        self.feeds_per_host = feeds_per_host
        self.items_per_feed = items_per_feed
        self.seed = seed
        self.base_time = base_time
        self.feeds: list[Feed] = []
        for host, base in enumerate(bases):
            lang = "zh-TW" if host % 4 == 1 else "en"
            for local in range(feeds_per_host):
                fid = host * feeds_per_host + local
                fmt = "atom" if fid % 3 == 2 else "rss"
                self.feeds.append(
                    Feed(fid, host, fmt, lang, f"{base}/feed/{fid}.{fmt}", f"{base}/news/{fid}/")
                )

    # -- content -------------------------------------------------------------------------

    def feed(self, feed_id: int) -> Feed:
        """The feed with its initial items generated on first use."""
        feed = self.feeds[feed_id]
        if not feed.generated:
            self._generate(feed)
        return feed

    def host_feeds(self, host: int) -> list[Feed]:
        first = host * self.feeds_per_host
        return [self.feed(i) for i in range(first, first + self.feeds_per_host)]

    def _generate(self, feed: Feed) -> None:
        step = timedelta(minutes=37 + 11 * (feed.feed_id % 5))
        count = self.items_per_feed
        for seq in range(1, count + 1):
            rng = random.Random(f"{self.seed}:{feed.feed_id}:{seq}")
            title, summary, body = _text(rng, feed.lang, varied=not self.templated)
            published = self.base_time - step * (count - seq)
            feed.items.insert(0, self._item(feed, seq, title, summary, body, published, rng))
        feed.next_seq = count + 1
        feed.modified = feed.items[0].published if feed.items else self.base_time
        feed.generated = True

    def _item(
        self,
        feed: Feed,
        seq: int,
        title: str,
        summary: str,
        body: str,
        published: datetime,
        rng: random.Random,
        link: str | None = None,
        syndicated_from: str | None = None,
    ) -> Item:
        slug = _slug(title)
        url = f"{self.bases[feed.host]}/news/{feed.feed_id}/{seq:05d}-{slug}.html"
        return Item(
            feed_id=feed.feed_id,
            seq=seq,
            guid=f"tag:wirewatch.bench,2026:{self.seed}/{feed.feed_id}/{seq}",
            title=title,
            summary=summary,
            body=body,
            url=url,
            link=link or url,
            published=published,
            lang=feed.lang,
            author=rng.choice(_AUTHORS),
            syndicated_from=syndicated_from,
        )

    def add_item(
        self,
        feed_id: int,
        title: str,
        summary: str,
        body: str,
        link: str | None = None,
        syndicated_from: str | None = None,
        now: datetime | None = None,
    ) -> Item:
        """Publish a new item at the top of a feed; the oldest one leaves the window."""
        feed = self.feed(feed_id)
        # Strictly increasing seconds, so Last-Modified changes with every publish.
        stamp = (now or datetime.now(UTC)).replace(microsecond=0)
        stamp = max(stamp, feed.modified + timedelta(seconds=1))
        rng = random.Random(f"{self.seed}:{feed_id}:{feed.next_seq}:published")
        item = self._item(
            feed, feed.next_seq, title, summary, body, stamp, rng, link, syndicated_from
        )
        feed.next_seq += 1
        feed.items.insert(0, item)
        while len(feed.items) > max(self.items_per_feed, 1):
            feed.archive.append(feed.items.pop())
        feed.modified = stamp
        feed.version += 1
        return item

    def syndicated_copy(self, item: Item, feed_id: int) -> tuple[str, str, str]:
        """Same story with small edits, as a wire copy on another outlet."""
        rng = random.Random(f"{self.seed}:syndicate:{item.guid}:{feed_id}")
        if item.lang.startswith("zh"):
            title = rng.choice(("", "快訊：", "獨家：")) + item.title
            credit = rng.choice(("（中央社）", "（綜合報導）", "（記者報導）"))
            body = credit + item.body
        else:
            title = rng.choice(("", "UPDATE: ", "Report: ")) + item.title
            credit = rng.choice(("(Reuters) - ", "(AP) - ", "(AFP) - "))
            body = credit + item.body.replace(" said ", " told reporters ", 1)
        return title, item.summary, body

    def find_item(self, feed_id: int, seq: int) -> Item | None:
        feed = self.feed(feed_id)
        for item in (*feed.items, *feed.archive):
            if item.seq == seq:
                return item
        return None

    # -- renderers -----------------------------------------------------------------------

    def render_feed(self, feed_id: int) -> str:
        """The feed document as text (RSS 2.0 or Atom 1.0)."""
        feed = self.feed(feed_id)
        return _render_atom(feed) if feed.fmt == "atom" else _render_rss(feed)

    def render_listing(self, feed_id: int) -> str:
        feed = self.feed(feed_id)
        rows = "\n".join(
            f'<article class="story">\n<h2><a href="{escape(i.url)}">{escape(i.title)}</a></h2>\n'
            f'<time datetime="{i.published.isoformat()}">{i.published:%Y-%m-%d %H:%M}</time>\n'
            f'<p class="summary">{escape(i.summary)}</p>\n</article>'
            for i in feed.items
        )
        return _html_page(
            feed.lang,
            f"Section {feed.feed_id}",
            f'<link rel="alternate" type="{_feed_type(feed)}" href="{escape(feed.url)}">',
            f"<main>\n<h1>Section {feed.feed_id}</h1>\n{rows}\n</main>",
        )

    def render_article(self, item: Item) -> str:
        paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in item.body.split("\n\n"))
        head = (
            f'<meta property="og:title" content="{escape(item.title)}">\n'
            f'<meta property="article:published_time" content="{item.published.isoformat()}">\n'
            f'<meta name="author" content="{escape(item.author)}">\n'
            f'<link rel="canonical" href="{escape(item.url)}">'
        )
        nav = '<nav><a href="/">Home</a></nav>'
        main = (
            f"{nav}\n<article>\n<h1>{escape(item.title)}</h1>\n"
            f'<p class="byline">{escape(item.author)} · '
            f'<time datetime="{item.published.isoformat()}">{http_date(item.published)}</time>'
            f"</p>\n{paragraphs}\n</article>\n<footer>© Bench News</footer>"
        )
        return _html_page(item.lang, item.title, head, main)

    def render_home(self, host: int) -> str:
        feeds = self.host_feeds(host)
        links = "\n".join(
            f'<link rel="alternate" type="{_feed_type(f)}" title="Section {f.feed_id}" '
            f'href="{escape(f.url)}">'
            for f in feeds
        )
        sections = "\n".join(
            f'<li><a href="{escape(f.listing_url)}">Section {f.feed_id}</a></li>' for f in feeds
        )
        return _html_page(
            feeds[0].lang if feeds else "en",
            f"Bench News {host}",
            links,
            f"<h1>Bench News {host}</h1>\n<ul>\n{sections}\n</ul>",
        )

    def render_sitemap(self, host: int) -> str:
        rows = []
        for feed in self.host_feeds(host):
            for item in (*feed.items, *feed.archive):
                rows.append(
                    f"<url><loc>{escape(item.url)}</loc>"
                    f"<lastmod>{item.published.isoformat()}</lastmod>"
                    "<news:news><news:publication><news:name>Bench News</news:name>"
                    f"<news:language>{item.lang[:2]}</news:language></news:publication>"
                    f"<news:publication_date>{item.published.isoformat()}"
                    f"</news:publication_date><news:title>{escape(item.title)}</news:title>"
                    "</news:news></url>"
                )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
            + "\n".join(rows)
            + "\n</urlset>\n"
        )

    def host_modified(self, host: int) -> datetime:
        return max((f.modified for f in self.host_feeds(host)), default=self.base_time)


def _feed_type(feed: Feed) -> str:
    return "application/atom+xml" if feed.fmt == "atom" else "application/rss+xml"


def _html_page(lang: str, title: str, head: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _render_rss(feed: Feed) -> str:
    entries = "\n".join(
        f"<item>\n<title>{escape(i.title)}</title>\n<link>{escape(i.link)}</link>\n"
        f'<guid isPermaLink="false">{escape(i.guid)}</guid>\n'
        f"<pubDate>{http_date(i.published)}</pubDate>\n"
        f"<dc:creator>{escape(i.author)}</dc:creator>\n"
        f"<description>{escape(i.summary)}</description>\n</item>"
        for i in feed.items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
        f"<title>Bench News section {feed.feed_id}</title>\n"
        f"<link>{escape(feed.listing_url)}</link>\n"
        f"<description>Generated section {feed.feed_id}</description>\n"
        f"<language>{feed.lang}</language>\n"
        f"<lastBuildDate>{http_date(feed.modified)}</lastBuildDate>\n"
        f"{entries}\n</channel>\n</rss>\n"
    )


def _render_atom(feed: Feed) -> str:
    entries = "\n".join(
        f'<entry>\n<title>{escape(i.title)}</title>\n<link href="{escape(i.link)}"/>\n'
        f"<id>{escape(i.guid)}</id>\n<updated>{i.published.isoformat()}</updated>\n"
        f"<published>{i.published.isoformat()}</published>\n"
        f"<author><name>{escape(i.author)}</name></author>\n"
        f"<summary>{escape(i.summary)}</summary>\n</entry>"
        for i in feed.items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{feed.lang}">\n'
        f"<title>Bench News section {feed.feed_id}</title>\n"
        f'<link rel="alternate" href="{escape(feed.listing_url)}"/>\n'
        f'<link rel="self" href="{escape(feed.url)}"/>\n'
        f"<id>tag:wirewatch.bench,2026:feed/{feed.feed_id}</id>\n"
        f"<updated>{feed.modified.isoformat()}</updated>\n{entries}\n</feed>\n"
    )
