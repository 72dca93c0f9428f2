"""Scrapy settings for a collection pass, built in one place from :class:`CrawlSettings`."""

from __future__ import annotations

from typing import Any

from crawler.crawl_settings import CrawlSettings

# Statuses Scrapy's RetryMiddleware may retry within a pass. 429 and 503 are left out: they
# come back to us with their Retry-After, which decides the source's next poll instead.
RETRY_HTTP_CODES = (500, 502, 504, 522, 524, 408)
REDIRECT_MAX_TIMES = 8
# Jitter applied to DOWNLOAD_DELAY: each wait is delay × uniform(1 - j, 1 + j).
DELAY_JITTER = 0.5
# Outputs of one callback processed in parallel (see scrapy_settings).
CONCURRENT_ITEMS = 8
# Bytes of downloaded responses not yet through parsing and storage past which Scrapy hands
# its downloader no new request (its default: 5 MB). A storage-bound first pass otherwise
# runs ~400 feeds ahead of storage, each held parsed (about 100 KB per 12 KB feed): a
# 1,000-feed first pass peaked 17 MiB lower with 1 MB, as fast (benchmarks/RESULTS.md). A
# pass that keeps up with its downloads never reaches it.
SCRAPER_BACKLOG_BYTES = 1_000_000
#: Parser processes of a crawl (crawler.parse_pool); 0 parses in threads.
PARSE_WORKERS_SETTING = "WIREWATCH_PARSE_WORKERS"
#: Whether they start only once parsing backs up (``parse_workers`` unset) or at once.
PARSE_ON_DEMAND_SETTING = "WIREWATCH_PARSE_ON_DEMAND"


def scrapy_settings(crawl: CrawlSettings, **overrides: Any) -> dict[str, Any]:
    """The settings dict for one crawl; ``overrides`` win (tests, the daemon's log level)."""
    settings: dict[str, Any] = {
        # Remote code execution surfaces Scrapy enables by default.
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.per_host,
        # Holds that limit (Scrapy's own downloader overshoots it, see crawler.slots).
        "DOWNLOADER": "crawler.slots.PoliteDownloader",
        "DOWNLOAD_DELAY": crawl.delay.total_seconds(),
        "DOWNLOAD_DELAY_JITTER": DELAY_JITTER if crawl.delay.total_seconds() else 0.0,
        "DOWNLOAD_TIMEOUT": max(1.0, crawl.timeout.total_seconds()),
        # Applies to the compressed and, in HttpCompressionMiddleware, the inflated body.
        "DOWNLOAD_MAXSIZE": crawl.max_bytes,
        "DOWNLOAD_WARNSIZE": max(crawl.max_bytes // 2, 1),
        # Scrapy 2.19 still defaults to no verification; per-source exceptions belong in the
        # source config, never here.
        "DOWNLOAD_VERIFY_CERTIFICATES": True,
        "RETRY_ENABLED": crawl.retries > 0,
        "RETRY_TIMES": crawl.retries,
        "RETRY_HTTP_CODES": list(RETRY_HTTP_CODES),
        # The source's outcome carries the error; Scrapy need not shout about it too.
        "RETRY_GIVE_UP_LOG_LEVEL": "WARNING",
        "REDIRECT_ENABLED": True,
        "REDIRECT_MAX_TIMES": REDIRECT_MAX_TIMES,
        "METAREFRESH_ENABLED": False,
        "COOKIES_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "AUTOTHROTTLE_ENABLED": False,
        "WIREWATCH_ALLOW_PRIVATE": list(crawl.allow_private),  # crawler.netguard
        PARSE_WORKERS_SETTING: crawl.parse_processes(),
        PARSE_ON_DEMAND_SETTING: crawl.parse_workers is None,
        "DOWNLOADER_MIDDLEWARES": {
            # First of all, before robots.txt is asked: no request reaches a private
            # network unless the link policy allows it (redirect hops come back here too).
            "crawler.netguard.LinkPolicyMiddleware": 50,
            # Below RedirectMiddleware (600) and HttpCompressionMiddleware (590): responses
            # reach it final and inflated, with their redirect chain in the meta.
            "crawler.middlewares.ConditionalGetMiddleware": 580,
            # Above HttpCompressionMiddleware (590): sees a compressed response first.
            "crawler.middlewares.PlainBeforeInflateMiddleware": 595,
            # robots.txt parsers outlive a pass (Scrapy's own keeps them per crawl).
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.robots.CachedRobotsTxtMiddleware": 100,
            # Per-request work for nothing here: the spider sets no allowed_domains (the
            # link policy above decides) and no http_user, and nobody reads crawl stats.
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
            "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
        },
        # Each spider middleware wraps every callback's output (and every start request) in
        # one more async generator. Depth only counts (DEPTH_LIMIT is 0; the spider keeps
        # its own depth in the request's Fetch); MetaCopyDetection is a developer warning.
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
        },
        "ITEM_PIPELINES": {"crawler.pipelines.StoragePipeline": 300},
        # Scrapy starts this many tasks for every callback's output, even an empty one. A
        # page yields one EntryBatch plus a few requests and storage is serialised anyway;
        # the default (100 tasks per response) took a fifth of a 304 pass's CPU time.
        "CONCURRENT_ITEMS": CONCURRENT_ITEMS,
        "SCRAPER_SLOT_MAX_ACTIVE_SIZE": SCRAPER_BACKLOG_BYTES,
        "LOG_LEVEL": "WARNING",
        "LOGSTATS_INTERVAL": 0,
        "STATS_DUMP": False,
        "MEMUSAGE_ENABLED": False,
        "DNSCACHE_ENABLED": True,
        # One crawl serves many small sources: keep the per-domain slots fair (FIFO).
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
    }
    settings.update(overrides)
    _drop_switched_off(settings)
    return settings


def _drop_switched_off(settings: dict[str, Any]) -> None:
    """Leave out of Scrapy's base component tables the components that would refuse to run.

    Scrapy imports every component (even one set to None) before it asks the component
    whether it is enabled; these refuse unless their setting is on, and their imports are
    large (aiohttp for the remote control, tldextract and requests for cookies).
    """
    from scrapy.settings import default_settings

    for table, component, switch in _IMPORTED_TO_REFUSE:
        base = f"{table}_BASE"
        if settings.get(switch) or base in settings:
            continue
        settings[base] = {
            k: v for k, v in getattr(default_settings, base).items() if k != component
        }


_IMPORTED_TO_REFUSE = (
    ("EXTENSIONS", "scrapy.extensions.remote_control.RemoteControl", "REMOTE_CONTROL_ENABLED"),
    (
        "DOWNLOADER_MIDDLEWARES",
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
        "COOKIES_ENABLED",
    ),
)
