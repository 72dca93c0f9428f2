"""Extraction quality on the article corpus: wirewatch against plain trafilatura.

- ``extract-scrapinghub``: mean token F1 of the main text on the 181 pages of the
  scrapinghub article-extraction benchmark (its evaluate.py metric);
- ``extract-chinese``: mean character F1 on the 69 hand-labelled Chinese pages;
- ``extract-chinese-dates``: share of those pages (with a labelled date) whose publication
  date comes out right (the calendar day).

The baseline is ``trafilatura.bare_extraction`` with its defaults on the same decoded page
(its date is htmldate's). Reads the corpus in place; a missing corpus gives no numbers.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import trafilatura

from benchmarks.registry import Result, RunOptions, register
from crawler.dates import parse_date
from crawler.extract import decode_html, extract_article

SCRAPINGHUB = Path("articles") / "scrapinghub-article-extraction-benchmark"
CHINESE = Path("articles") / "immortal-autumn-chinese-web-content-extraction"
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\u3400-\u9fff\uf900-\ufaff]+")


def token_f1(predicted: str, truth: str) -> float:
    """Token-level F1 as in the scrapinghub benchmark's evaluate.py (a CJK character a token)."""
    pred, true = Counter(_TOKEN.findall(predicted.lower())), Counter(_TOKEN.findall(truth.lower()))
    if not pred or not true:
        return float(pred == true)
    common = sum((pred & true).values())
    if not common:
        return 0.0
    precision, recall = common / sum(pred.values()), common / sum(true.values())
    return 2 * precision * recall / (precision + recall)


def scrapinghub_pages(corpus: Path) -> Iterator[tuple[bytes, str, str]]:
    """(page bytes, URL, true article body) of the scrapinghub benchmark."""
    root = corpus / SCRAPINGHUB
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for key, item in truth.items():
        page = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        yield page, item["url"], item["articleBody"]


def chinese_pages(corpus: Path) -> Iterator[tuple[bytes, str, str | None]]:
    """(page bytes, true text, true date as YYYY-MM-DD or None) of the Chinese pages."""
    root = corpus / CHINESE
    for page in sorted((root / "original").glob("*.html")):
        cleaned = (root / "cleaned" / f"{page.stem}.txt").read_text(encoding="utf-8")
        label = (root / "date" / f"{page.stem}.txt").read_text(encoding="utf-8").strip()
        m = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})", label)
        day = f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}" if m else None
        yield page.read_bytes(), cleaned, day


def _baseline(page: bytes, url: str) -> tuple[str, str | None]:
    doc = trafilatura.bare_extraction(decode_html(page), url=url, with_metadata=True)
    if doc is None:
        return "", None
    return doc.text or "", doc.date


def _mean_f1(pages: Iterable[tuple[bytes, str, str]]) -> tuple[float, float]:
    """Mean F1 of wirewatch's and the baseline's text over (page, URL, true text)."""
    ours, base = [], []
    for page, url, truth in pages:
        article = extract_article(page, url=url)
        ours.append(token_f1(article.text if article else "", truth))
        base.append(token_f1(_baseline(page, url)[0], truth))
    return statistics.mean(ours), statistics.mean(base)


def _limit(items: Iterator[tuple], quick: bool) -> list[tuple]:  # type: ignore[type-arg]
    found = list(items)
    return found[:20] if quick else found


@register("extract-scrapinghub", "article text: mean token F1 on the scrapinghub benchmark")
def scrapinghub(options: RunOptions) -> Result:
    if options.corpus is None:
        return Result("extract-scrapinghub", None, None, "mean F1", notes="corpus not found")
    pages = _limit(scrapinghub_pages(options.corpus), options.quick)
    ours, base = _mean_f1((page, url, truth) for page, url, truth in pages)
    return Result(
        "extract-scrapinghub",
        ours,
        base,
        "mean F1",
        target=">= 0.95",
        notes=f"{len(pages)} pages; baseline: trafilatura.bare_extraction defaults",
    )


@register("extract-chinese", "article text: mean character F1 on 69 labelled Chinese pages")
def chinese(options: RunOptions) -> Result:
    if options.corpus is None:
        return Result("extract-chinese", None, None, "mean char F1", notes="corpus not found")
    pages = _limit(chinese_pages(options.corpus), options.quick)
    ours, base = _mean_f1((page, "http://example.cn/", truth) for page, truth, _ in pages)
    return Result(
        "extract-chinese",
        ours,
        base,
        "mean char F1",
        target="> 0.87 (before)",
        notes=f"{len(pages)} pages (many GB2312); link-dense table cells dropped first",
    )


@register("extract-chinese-dates", "publication dates found right on the labelled Chinese pages")
def chinese_dates(options: RunOptions) -> Result:
    if options.corpus is None:
        return Result("extract-chinese-dates", None, None, "share", notes="corpus not found")
    pages = [p for p in _limit(chinese_pages(options.corpus), options.quick) if p[2]]
    ours = base = 0
    rules: Counter[str] = Counter()
    for page, _, day in pages:
        article = extract_article(page, url="http://example.cn/")
        if article and article.published_at and article.published_at.date().isoformat() == day:
            ours += 1
            rules[(article.date_rule or "").split("[")[0]] += 1
        hint = _baseline(page, "http://example.cn/")[1]
        got = parse_date(hint) if hint else None
        base += bool(got and got.date().isoformat() == day)
    n = len(pages)
    return Result(
        "extract-chinese-dates",
        ours / n,
        base / n,
        "share right",
        target=">= 0.90",
        notes=f"{ours}/{n} right (baseline {base}/{n}); by rule: "
        + ", ".join(f"{r} {c}" for r, c in rules.most_common()),
    )
