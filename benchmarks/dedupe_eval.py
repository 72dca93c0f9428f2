"""Evaluate the "same story" decision of crawler.dedupe on the shared dedupe corpus.

    python -m benchmarks.dedupe_eval [--thresholds 0.3,0.5,0.7]

Reads the corpus in place (``WIREWATCH_CORPUS`` or ``shared/corpus`` beside the repository);
nothing is copied. Three parts:

- Gedikli et al. (4,950 labelled pairs, 100 English energy/business articles): precision,
  recall and F1 of the pairwise decision. Their label is "same story chain", looser than
  ours (follow-ups and rewrites of one press release count), so recall is bounded.
- WikiRef220 (220 articles, 5 topic clusters + noise topics): the articles go through
  ``attach_article`` on a scratch SQLite database and the resulting stories are scored with
  pairwise precision/recall. Topic clusters are not near-duplicates: expect low recall.
- Unlabelled cross-feed syndication candidates (feed title + summary only): the similarity
  distribution and what the rule decides, for eyeballing.
- Short feed items (title + a summary clipped to ``SUMMARY_WORDS`` words, the shape of most
  feed entries): the old rule (similarity only from 30 word-equivalents) against the
  current one (from ``MIN_SIZE``, titles agreeing below ``TITLE_CHECK_SIZE``): Gedikli's
  labelled pairs in that shape, recall on copies edited the way outlets edit wire items
  ("UPDATE:", "Report:", " | Outlet", "(Reuters)"), and every merge among all distinct
  items (Gedikli, WikiRef220 and 1,200 real captured feed items): labelled ones counted as
  false merges, unlabelled ones listed for review.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler import dedupe
from crawler.shingles import shingles_of, size, tokens

REPO = Path(__file__).resolve().parents[1]
DEFAULT_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
GEDIKLI = "gedikli-business-energy-news-story-chains"
WIKIREF = "wikiref220-news-clustering"
SYNDICATION = "feed-syndication-candidates-UNLABELED/title_pairs_ratio_ge_0.6.tsv"


def corpus_root() -> Path:
    """The dedupe corpus folder (``$WIREWATCH_CORPUS/dedupe`` or ``../shared/corpus/dedupe``)."""
    env = os.environ.get("WIREWATCH_CORPUS")
    base = Path(env) if env else REPO.parent / "shared" / "corpus"
    return base / "dedupe"


@dataclass
class Doc:
    """One text prepared the way ``attach_article`` sees it."""

    key: str
    title: str
    body: str

    def __post_init__(self) -> None:
        units = tokens(f"{self.title}\n{self.body}")
        self.size = size(units)
        self.hash = dedupe.content_hash(self.title, self.body)
        self.shingles = shingles_of(units)
        self.sig = dedupe.signature(self.shingles)
        eligible = self.size >= dedupe.MIN_SIZE
        self.bands = set(dedupe.band_keys(self.sig)) if eligible else set()

    def estimate(self, other: Doc) -> float:
        return dedupe.jaccard(self.sig, other.sig)

    def exact(self, other: Doc) -> float:
        union = self.shingles | other.shingles
        return len(self.shingles & other.shingles) / len(union) if union else 0.0


def same_story(a: Doc, b: Doc, threshold: float) -> bool:
    """The pairwise form of ``attach_article``'s rule."""
    if a.hash == b.hash and min(a.size, b.size) >= dedupe.MIN_EXACT_SIZE:
        return True
    if not a.bands & b.bands:
        return False
    return dedupe.same_story(a.estimate(b), a.size, b.size, a.title, b.title, threshold)


def legacy_same_story(a: Doc, b: Doc, threshold: float) -> bool:
    """The rule before short copies were grouped: similarity only from 30 words up."""
    if a.hash == b.hash and min(a.size, b.size) >= dedupe.MIN_EXACT_SIZE:
        return True
    long_enough = min(a.size, b.size) >= LEGACY_MIN_SIZE
    return long_enough and bool(a.bands & b.bands) and a.estimate(b) >= threshold


def prf(tp: int, fp: int, fn: int) -> tuple[float | str, float | str, float | str]:
    """Precision, recall, F1 ("n/a" where undefined)."""
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r else None
    return tuple("n/a" if v is None else v for v in (p, r, f1))  # type: ignore[return-value]


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain fixed-width table."""
    cells = [[str(h) for h in header]] + [
        [f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def histogram(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts of ``values`` in [edges[i], edges[i+1]) (the last bin is closed)."""
    counts = [0] * (len(edges) - 1)
    for v in values:
        for i in range(len(edges) - 1):
            if edges[i] <= v < edges[i + 1] or (i == len(edges) - 2 and v == edges[-1]):
                counts[i] += 1
                break
    return counts


BINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


# -- Gedikli --------------------------------------------------------------------------------


def eval_gedikli(root: Path, thresholds: Sequence[float]) -> None:
    base = root / GEDIKLI
    with (base / "gedikli-business_energy_news_dataset-2021-06-29-article_texts.csv").open(
        encoding="utf-8-sig", newline=""
    ) as f:
        docs = {r["url"]: Doc(r["url"], r["title"], r["text"]) for r in csv.DictReader(f)}
    with (base / "gedikli-business_energy_news_dataset-2021-06-29.csv").open(
        encoding="utf-8-sig", newline=""
    ) as f:
        pairs = [
            (docs[r["url1"]], docs[r["url2"]], r["relation"] == "1")
            for r in csv.DictReader(f, delimiter=";")
        ]
    positives = sum(label for _, _, label in pairs)
    print(f"\n## Gedikli story-chain pairs: {len(pairs)} pairs, {positives} labelled same-chain")
    print("   (label = same story chain; follow-ups and rewrites count as positives)\n")
    rows = []
    for t in thresholds:
        tp = fp = fn = missed = 0
        for a, b, label in pairs:
            got = same_story(a, b, t)
            tp += got and label
            fp += got and not label
            fn += label and not got
            missed += (not (a.bands & b.bands)) and a.estimate(b) >= t
        mark = " *" if t == dedupe.THRESHOLD else ""
        rows.append((f"{t:.2f}{mark}", tp, fp, fn, *prf(tp, fp, fn), missed))
    print(table(("threshold", "TP", "FP", "FN", "P", "R", "F1", "lsh_missed"), rows))
    print("   * default; lsh_missed = pairs at or above the threshold that shared no band")

    est_pos = [a.estimate(b) for a, b, label in pairs if label]
    est_neg = [a.estimate(b) for a, b, label in pairs if not label]
    print("\nestimated Jaccard (word 5-shingles, 128 permutations) by label:")
    edges = [f"{lo:.2f}-{hi:.2f}" for lo, hi in itertools.pairwise(BINS)]
    print(
        table(
            ("bin", "same-chain", "different"),
            zip(edges, histogram(est_pos, BINS), histogram(est_neg, BINS), strict=True),
        )
    )
    print(f"max estimated Jaccard of a 'different' pair: {max(est_neg):.3f}")
    err = [abs(a.estimate(b) - a.exact(b)) for a, b, _ in pairs]
    print(f"|estimate - exact Jaccard|: mean {sum(err) / len(err):.4f}, max {max(err):.3f}")


# -- WikiRef220 -----------------------------------------------------------------------------


def _wikiref_docs(root: Path) -> tuple[list[Doc], dict[str, str]]:
    base = root / WIKIREF
    with (base / "labels.csv").open(encoding="utf-8", newline="") as f:
        labels = {r["file"]: r["cluster"] for r in csv.DictReader(f)}
    docs = []
    for name in sorted(labels):
        raw = (base / "WikiRef220" / name).read_bytes().decode("cp1252", errors="replace")
        title, _, body = raw.replace("\r\n", "\n").partition("\n")
        docs.append(Doc(name, title.strip(), body.strip()))
    return docs, labels


def cluster_with_attach(docs: Sequence[Doc], threshold: float) -> dict[str, int]:
    """Run ``attach_article`` over ``docs`` in order on a scratch SQLite database."""
    from crawler.db import make_engine, session_factory
    from crawler.models import Article, Base, Source

    start = datetime(2016, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'eval.db'}")
        Base.metadata.create_all(engine)
        story_of: dict[str, int] = {}
        with session_factory(engine).begin() as s:
            s.add(Source(id="eval", type="rss", url="x", config_url="x"))
            s.flush()
            for i, doc in enumerate(docs):
                art = Article(
                    source_id="eval",
                    url=f"urn:eval:{i}",
                    canonical_url=f"urn:eval:{i}",
                    title=doc.title,
                    body=doc.body,
                )
                s.add(art)
                s.flush()
                # one article a minute: the whole set falls in one 14-day window
                now = start + timedelta(minutes=i)
                story, _ = dedupe.attach_article(s, art, now=now, threshold=threshold)
                story_of[doc.key] = story.id
        engine.dispose()
    return story_of


def pairwise_scores(
    assign: dict[str, int], labels: dict[str, str], keep: set[str]
) -> tuple[int, int, int, int]:
    """TP, FP, FN over article pairs (gold = same label in ``keep``), plus merged pairs that
    share a label outside ``keep`` (a noise topic: right, but not part of the 5 clusters)."""
    tp = fp = fn = other = 0
    for a, b in itertools.combinations(sorted(assign), 2):
        gold = labels[a] == labels[b]
        got = assign[a] == assign[b]
        if got and not gold:
            fp += 1
        elif gold and labels[a] in keep:
            tp += got
            fn += not got
        elif got:
            other += 1
    return tp, fp, fn, other


def eval_wikiref(root: Path, thresholds: Sequence[float]) -> None:
    docs, labels = _wikiref_docs(root)
    clusters = Counter(labels.values())
    real = {c for c in clusters if not c.startswith("noise:")}
    gold_pairs = sum(n * (n - 1) // 2 for c, n in clusters.items() if c in real)
    print(f"\n## WikiRef220: {len(docs)} articles, {len(real)} topic clusters ({gold_pairs} pairs)")
    print("   (topic/event clusters, not copies: a near-duplicate detector should have low recall)")
    short = sum(d.size < dedupe.MIN_SIZE for d in docs)
    print(f"   {short} articles under MIN_SIZE={dedupe.MIN_SIZE:g} (exact hash only)\n")
    rows = []
    merged_examples: list[tuple[str, str]] = []
    for t in thresholds:
        assign = cluster_with_attach(docs, t)
        tp, fp, fn, other = pairwise_scores(assign, labels, real)
        sizes = Counter(assign.values())
        multi = sum(1 for n in sizes.values() if n > 1)
        mark = " *" if t == dedupe.THRESHOLD else ""
        rows.append((f"{t:.2f}{mark}", len(sizes), multi, tp, fp, fn, other, *prf(tp, fp, fn)))
        if t == dedupe.THRESHOLD:
            by_story: dict[int, list[str]] = {}
            for key, sid in assign.items():
                by_story.setdefault(sid, []).append(key)
            merged_examples = [
                (", ".join(keys), ", ".join(sorted({labels[k] for k in keys})))
                for keys in by_story.values()
                if len(keys) > 1
            ]
    print(
        table(("threshold", "stories", "multi", "TP", "FP", "FN", "noise_ok", "P", "R", "F1"), rows)
    )
    print("   pairs: TP/FN over the 5 clusters; FP = any merged pair with different labels;")
    print("   noise_ok = merged pairs within one small noise topic (correct, not scored)")
    if merged_examples:
        print(f"\nmulti-article stories at the default threshold ({dedupe.THRESHOLD}):")
        for keys, labs in merged_examples:
            print(f"  [{labs}] {keys}")

    est_same, est_diff = [], []
    for a, b in itertools.combinations(docs, 2):
        (est_same if labels[a.key] == labels[b.key] else est_diff).append(a.estimate(b))
    print("\nestimated Jaccard of article pairs:")
    edges = [f"{lo:.2f}-{hi:.2f}" for lo, hi in itertools.pairwise(BINS)]
    print(
        table(
            ("bin", "same topic", "different"),
            zip(edges, histogram(est_same, BINS), histogram(est_diff, BINS), strict=True),
        )
    )


# -- syndication candidates -----------------------------------------------------------------


def _feed_items(path: Path) -> dict[str, tuple[str, str]]:
    import feedparser

    from crawler.text import html_to_text, normalize_text

    parsed = feedparser.parse(path.read_bytes())
    items = {}
    for e in parsed.entries:
        link = e.get("link", "")
        summary = html_to_text(e.get("summary", "") or "")
        items[link] = (normalize_text(e.get("title", "")), summary)
    return items


def eval_syndication(root: Path) -> None:
    path = root / SYNDICATION
    feeds_dir = root.parent / "feeds" / "kagisearch-fastfeedparser" / "benchmark_data"
    if not path.is_file() or not feeds_dir.is_dir():
        print("\n## syndication candidates: not in the corpus, skipped")
        return
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    cache: dict[str, dict[str, tuple[str, str]]] = {}

    def item(feed: str, link: str) -> Doc | None:
        if feed not in cache:
            cache[feed] = _feed_items(feeds_dir / feed) if (feeds_dir / feed).is_file() else {}
        got = cache[feed].get(link)
        return Doc(link, *got) if got else None

    out = []
    for r in rows:
        a, b = item(r["feed_a"], r["link_a"]), item(r["feed_b"], r["link_b"])
        if a is None or b is None:
            continue
        decision = "same" if same_story(a, b, dedupe.THRESHOLD) else "apart"
        if min(a.size, b.size) < dedupe.MIN_SIZE and decision == "apart":
            decision = "apart (short)"
        out.append((float(r["title_ratio"]), a, b, decision))
    print(f"\n## Syndication candidates (UNLABELLED, feed title + summary): {len(out)} pairs")
    print(f"   of {len(rows)} rows; decisions at the default threshold {dedupe.THRESHOLD}\n")
    print(
        table(
            ("title_ratio", "J_est", "J_exact", "size_a", "size_b", "decision", "title_a"),
            (
                (ratio, a.estimate(b), a.exact(b), int(a.size), int(b.size), dec, a.title[:48])
                for ratio, a, b, dec in sorted(out, key=lambda x: -x[1].estimate(x[2]))
            ),
        )
    )
    print("\ndecisions:", dict(Counter(d for *_, d in out)))


# -- short feed items -----------------------------------------------------------------------

SUMMARY_WORDS = 20
LEGACY_MIN_SIZE = 30.0
RULES = {"old": legacy_same_story, "current": same_story}
COPY_EDITS = {
    "UPDATE: prefix": lambda t, s: (f"UPDATE: {t}", s),
    "Report: prefix": lambda t, s: (f"Report: {t}", s),
    "outlet suffix": lambda t, s: (f"{t} | Reuters", s),
    "(Reuters) tag": lambda t, s: (t, f"{s} (Reuters)"),
}


def feed_item(key: str, title: str, text: str, words: int = SUMMARY_WORDS) -> Doc:
    """An article in feed-entry shape: its title and the first ``words`` words of ``text``."""
    return Doc(key, title, " ".join(text.split()[:words]))


def _gedikli_feed_pairs(root: Path) -> list[tuple[Doc, Doc, bool]]:
    base = root / GEDIKLI
    with (base / "gedikli-business_energy_news_dataset-2021-06-29.csv").open(
        encoding="utf-8-sig", newline=""
    ) as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    items: dict[str, Doc] = {}
    for r in rows:
        for n in ("1", "2"):
            url = r[f"url{n}"]
            if url not in items:
                items[url] = feed_item(url, r[f"title{n}"], r[f"summary{n}"])
    return [(items[r["url1"]], items[r["url2"]], r["relation"] == "1") for r in rows]


def _real_feed_items(root: Path) -> list[Doc]:
    feeds_dir = root.parent / "feeds" / "kagisearch-fastfeedparser" / "benchmark_data"
    if not feeds_dir.is_dir():
        return []
    docs = []
    for path in sorted(feeds_dir.glob("*.xml")):
        for link, (title, summary) in _feed_items(path).items():
            docs.append(Doc(f"{path.name}:{link}", title, summary))
    return docs


def _merged_pairs(docs: Sequence[Doc], rule, threshold: float) -> list[tuple[Doc, Doc]]:  # type: ignore[no-untyped-def]
    """Pairs of ``docs`` the rule puts in one story (candidates: a shared band or hash)."""
    buckets: dict[object, list[int]] = {}
    for i, d in enumerate(docs):
        for key in (*d.bands, d.hash):
            buckets.setdefault(key, []).append(i)
    pairs = {(a, b) for ids in buckets.values() for a, b in itertools.combinations(sorted(ids), 2)}
    return [(docs[a], docs[b]) for a, b in sorted(pairs) if rule(docs[a], docs[b], threshold)]


@dataclass
class ShortItemScores:
    """The short-item evaluation: one row per rule (old, current) in each table."""

    pairs: list[tuple[object, ...]]  # Gedikli pairs in feed shape: rule, TP, FP, FN, P, R, F1
    copies: list[tuple[object, ...]]  # edit, found by old, found by current; last: recall
    merges: list[tuple[object, ...]]  # rule, merged pairs, false (labelled), other
    unlabelled: list[tuple[Doc, Doc]]  # current-rule merges among unlabelled feed items
    n_pairs: int
    n_short: int
    n_items: int


def score_short_items(root: Path) -> ShortItemScores:
    """Run the short-item evaluation (see the module docstring)."""
    t = dedupe.THRESHOLD
    pairs = _gedikli_feed_pairs(root)
    pair_rows: list[tuple[object, ...]] = []
    for name, rule in RULES.items():
        tp = sum(rule(a, b, t) and label for a, b, label in pairs)
        fp = sum(rule(a, b, t) and not label for a, b, label in pairs)
        fn = sum(label and not rule(a, b, t) for a, b, label in pairs)
        pair_rows.append((name, tp, fp, fn, *prf(tp, fp, fn)))

    gedikli = {a.key: a for a, _, _ in pairs} | {b.key: b for _, b, _ in pairs}
    wiki_docs, wiki_labels = _wikiref_docs(root)
    wiki = [feed_item(d.key, d.title, d.body) for d in wiki_docs]
    bases = [*gedikli.values(), *wiki, *_real_feed_items(root)]
    short = [d for d in bases if dedupe.MIN_SIZE <= d.size < LEGACY_MIN_SIZE]
    copy_rows: list[tuple[object, ...]] = []
    for edit, make in COPY_EDITS.items():
        copies = [Doc(f"{d.key}#copy", *make(d.title, d.body)) for d in short]
        found = [
            sum(rule(d, c, t) for d, c in zip(short, copies, strict=True))
            for rule in RULES.values()
        ]
        copy_rows.append((edit, *found))
    total = len(short) * len(COPY_EDITS)
    copy_rows.append(("recall", *(sum(r[i] for r in copy_rows) / total for i in (1, 2))))  # type: ignore[misc]

    labelled = {d.key: ("gedikli", d.key) for d in gedikli.values()}
    labelled |= {d.key: ("wikiref", wiki_labels[d.key]) for d in wiki}
    related = {(a.key, b.key) for a, b, label in pairs if label}
    related |= {(b, a) for a, b in related}
    merge_rows: list[tuple[object, ...]] = []
    unlabelled: list[tuple[Doc, Doc]] = []
    for name, rule in RULES.items():
        merged = _merged_pairs(bases, rule, t)
        false = 0
        for a, b in merged:
            la, lb = labelled.get(a.key), labelled.get(b.key)
            if la and lb:
                same = (a.key, b.key) in related or (la[0] == "wikiref" and la == lb)
                false += not same
            elif name == "current":
                unlabelled.append((a, b))
        merge_rows.append((name, len(merged), false, len(merged) - false))
    return ShortItemScores(
        pair_rows, copy_rows, merge_rows, unlabelled, len(pairs), len(short), len(bases)
    )


def eval_short_items(root: Path) -> None:
    print(f"\n## Short feed items: title + first {SUMMARY_WORDS} words of the text")
    print(
        f"   old rule: similarity only from {LEGACY_MIN_SIZE:g} word-equivalents; current: from "
        f"MIN_SIZE={dedupe.MIN_SIZE:g}, titles agreeing below "
        f"TITLE_CHECK_SIZE={dedupe.TITLE_CHECK_SIZE:g}\n"
    )
    scores = score_short_items(root)
    print(f"Gedikli pairs in feed shape ({scores.n_pairs} pairs):")
    print(table(("rule", "TP", "FP", "FN", "P", "R", "F1"), scores.pairs))
    print(f"\nEdited copies of {scores.n_short} short items ({scores.n_items} items in all):")
    print(table(("edit", *RULES), scores.copies))
    print(f"\nMerges among the {scores.n_items} distinct items (each item its own story):")
    print(table(("rule", "merged pairs", "false (labelled)", "other"), scores.merges))
    if scores.unlabelled:
        print("\nmerged pairs among unlabelled real feed items (current rule), for review:")
        for a, b in scores.unlabelled:
            print(f"  {a.estimate(b):.2f}  {a.title[:60]!r}  ~  {b.title[:60]!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--thresholds",
        default=",".join(f"{t:g}" for t in DEFAULT_THRESHOLDS),
        help="comma-separated Jaccard thresholds to evaluate",
    )
    args = parser.parse_args(argv)
    thresholds = sorted({float(x) for x in args.thresholds.split(",")} | {dedupe.THRESHOLD})
    root = corpus_root()
    if not root.is_dir():
        print(f"dedupe corpus not found at {root} (set WIREWATCH_CORPUS)", file=sys.stderr)
        return 1
    print(
        f"crawler.dedupe: {dedupe.NUM_PERM} permutations, {dedupe.BANDS} bands x {dedupe.ROWS} "
        f"rows, threshold {dedupe.THRESHOLD}, min size {dedupe.MIN_SIZE:g} (titles agree below "
        f"{dedupe.TITLE_CHECK_SIZE:g}; exact {dedupe.MIN_EXACT_SIZE:g}) word-equivalents"
    )
    eval_gedikli(root, thresholds)
    eval_wikiref(root, thresholds)
    eval_syndication(root)
    eval_short_items(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
