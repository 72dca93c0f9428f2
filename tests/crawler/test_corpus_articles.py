"""Extraction quality on the article corpus (scrapinghub, trafilatura eval, Chinese pages)."""

from __future__ import annotations

import gzip
import json
import re
import statistics
from pathlib import Path

import pytest

from benchmarks.bench_extraction import token_f1
from crawler.extract import extract_article

# Floors sit a little under what was measured (see the report printed with -s).
SCRAPINGHUB_MEAN_F1 = 0.95
TRAFILATURA_WITH_RATIO = 0.90
TRAFILATURA_WITHOUT_RATIO = 0.90
CHINESE_MEAN_F1 = 0.89
CHINESE_DATE_RATIO = 0.90


def test_token_f1_metric() -> None:
    assert token_f1("a b c", "a b c") == 1.0
    assert token_f1("a b", "c d") == 0.0
    assert token_f1("中文新闻", "中文") == pytest.approx(2 * 0.5 * 1 / 1.5)


@pytest.fixture(scope="module")
def articles(corpus_dir: Path) -> Path:
    return corpus_dir / "articles"


def test_scrapinghub_f1(articles: Path) -> None:
    root = articles / "scrapinghub-article-extraction-benchmark"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    scores = []
    for key, item in truth.items():
        page = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        article = extract_article(page, url=item["url"])
        scores.append(token_f1(article.text if article else "", item["articleBody"]))
    mean = statistics.mean(scores)
    print(f"scrapinghub: n={len(scores)} mean F1={mean:.4f} median={statistics.median(scores):.4f}")
    assert len(scores) == 181
    assert mean >= SCRAPINGHUB_MEAN_F1


def test_trafilatura_snippets_and_metadata(articles: Path) -> None:
    root = articles / "adbar-trafilatura"
    cases = json.loads((root / "evaldata-subset.json").read_text(encoding="utf-8"))
    with_hits = with_total = without_ok = without_total = titled = dated = 0
    for url, case in cases.items():
        page = gzip.decompress((root / case["stored_as"]).read_bytes())
        article = extract_article(page, url=url)
        text = article.text if article else ""
        flat = re.sub(r"\s+", " ", text)
        for snippet in case.get("with", []):
            with_total += 1
            with_hits += re.sub(r"\s+", " ", snippet) in flat
        for snippet in case.get("without", []):
            without_total += 1
            without_ok += re.sub(r"\s+", " ", snippet) not in flat
        if article and case.get("title"):
            titled += article.title.strip() == case["title"].strip()
        if article and article.published_at and case.get("date"):
            dated += article.published_at.date().isoformat() == case["date"]
    with_ratio, without_ratio = with_hits / with_total, without_ok / without_total
    print(
        f"trafilatura subset: n={len(cases)} with={with_ratio:.3f} without={without_ratio:.3f} "
        f"title exact={titled} date exact={dated}"
    )
    assert with_ratio >= TRAFILATURA_WITH_RATIO
    assert without_ratio >= TRAFILATURA_WITHOUT_RATIO


def test_chinese_pages(articles: Path) -> None:
    root = articles / "immortal-autumn-chinese-web-content-extraction"
    scores, dates_ok, dates_total = [], 0, 0
    for page in sorted((root / "original").glob("*.html")):
        cleaned = (root / "cleaned" / f"{page.stem}.txt").read_text(encoding="utf-8")
        article = extract_article(page.read_bytes(), url="http://example.cn/")
        scores.append(token_f1(article.text if article else "", cleaned))
        expected = (root / "date" / f"{page.stem}.txt").read_text(encoding="utf-8").strip()
        if m := re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})", expected):
            dates_total += 1
            want = f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"
            got = (
                article.published_at.date().isoformat() if article and article.published_at else ""
            )
            dates_ok += got == want
    mean = statistics.mean(scores)
    print(f"chinese: n={len(scores)} mean F1={mean:.4f} dates {dates_ok}/{dates_total}")
    assert len(scores) == 69
    assert mean >= CHINESE_MEAN_F1
    assert dates_ok / dates_total >= CHINESE_DATE_RATIO
