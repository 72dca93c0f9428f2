"""HTML listing pages scraped with configured selectors (``type: html``)."""

from __future__ import annotations

from scrapy.http import Response, TextResponse

from crawler.extract import extract_listing
from crawler.middlewares import Fetch
from crawler.selectors import select_nodes
from crawler.sources import ListingSource
from crawler.spiders.base import CollectError, Collector, Page, SourceRun, content_type
from crawler.urls import clean_href


class ListingCollector(Collector):
    """Items of a listing page; follows ``selectors.next_page`` up to ``max_pages``."""

    types = ("html",)

    def parse(self, response: Response, run: SourceRun, fetch: Fetch) -> Page:
        """Entries of one listing page and the next page to fetch, if any."""
        cfg = run.config
        if not isinstance(cfg, ListingSource):
            raise CollectError(f"source type {cfg.type!r} is not a listing")
        sel = cfg.selectors
        listing = extract_listing(
            response.body,
            url=response.url,
            list_selector=sel.list,
            link_selector=sel.link,
            title_selector=sel.title,
            date_selector=sel.date,
            link_pattern=cfg.link_pattern,
            tz=run.tz,
            dayfirst=cfg.dayfirst,
            source_id=cfg.id,
            content_type=content_type(response),
        )
        entries = listing.entries
        # Known items count as found: only a page that yields nothing at all is a failure.
        problem = listing.problem(sel.list, cfg.link_pattern)
        if problem and fetch.role == "index":
            raise CollectError(problem)
        follow: list[str] = []
        if sel.next_page and fetch.depth + 1 < cfg.max_pages:
            next_url = next_page_url(response, sel.next_page)
            if next_url and next_url != response.url:
                follow.append(next_url)
        return Page(entries=entries, follow=follow, stop_when_known=True)


def next_page_url(response: Response, selector: str) -> str | None:
    """The absolute URL of the first node matched by ``selector`` (CSS, or XPath)."""
    if not isinstance(response, TextResponse):
        return None
    nodes = select_nodes(response, selector)
    for node in nodes:
        root = node.root
        if isinstance(root, str):  # the selector already picked an attribute or text
            href = root
        else:
            href = node.attrib.get("href") or node.css("a::attr(href)").get() or ""
        href = clean_href(href)
        if href:
            return response.urljoin(href)
    return None
