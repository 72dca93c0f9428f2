"""Stories: exact and near-duplicate detection of articles (content hash + MinHash LSH).

Decision rule for "same story" (all within a recent window of stories, default 14 days):

1. the same content hash (normalised title + body), if the text is at least
   ``MIN_EXACT_SIZE`` word-equivalents long ("Markets wrap" alone is not a story key);
2. otherwise, for texts of at least ``MIN_SIZE`` word-equivalents (a feed item's title and
   a summary of a dozen words), a MinHash LSH band hit in ``story_bands`` verified by an
   estimated Jaccard ≥ ``THRESHOLD`` against the candidate's stored signature; when either
   text is shorter than ``TITLE_CHECK_SIZE`` (feed-item sized), their titles must agree too
   (:func:`titles_agree`: most words of the shorter title are in the other). A syndicated
   copy whose headline gained "UPDATE:", "Report:" or " | Outlet" keeps its title's words
   and scores 0.6-0.98; two different items that share a boilerplate summary ("Read the
   full story at …") have different titles. Shorter texts (a bare headline) never take part
   in similarity matching: "Stocks rise as oil slips" and "Stocks rise as gold slips" share
   most of their few shingles. :func:`same_story` is the rule for one pair.

Parameters: 128 permutations, 32 bands × 4 rows. The LSH S-curve P(candidate) =
1 - (1 - J⁴)³² is 0.02 at J = 0.16 (the worst unrelated pair measured on real feeds),
0.87 at J = 0.5, 0.99 at 0.6 and 1.0 at 0.86 (syndicated copies). Its midpoint,
(1/32)^(1/4) ≈ 0.42, sits below the verification threshold on purpose: a false candidate
costs one signature comparison, a missed one costs a duplicate alert.

Batches: :func:`attach_batch` places the new articles of one batch (one response's entries)
with one exact-hash query, one band-candidate query and one signature fetch for the whole
batch (:func:`plan_stories`); each article is decided in order against the stored stories
and, in memory by the same rules, the batch's earlier articles, so the outcome is the one
``attach_article`` would give each in turn. :func:`attach_article` is a batch of one.

Cost per article does not grow with the archive: each band key yields at most ``PER_BAND``
of its newest rows (a bounded walk down the ``(band, article_id, story_id)`` index), at most
``MAX_CANDIDATES`` signatures are compared, and band keys go in with one multi-row INSERT.

Concurrency: on PostgreSQL ``attach_article`` and ``attach_batch`` (after their text work,
before their first lookup) and ``repair_recent`` take one transaction-level advisory lock,
so two processes attaching copies of one story serialise and the second sees the first's
committed story (READ COMMITTED, the default). SQLite serialises writers with ``BEGIN
IMMEDIATE`` already. A caller running at REPEATABLE READ or above, or anything that bypasses
``attach_article``/``attach_batch``, can still split a story; ``repair_recent`` merges those.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import chain, groupby
from typing import TYPE_CHECKING

from sqlalchemy import (
    Connection,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from crawler.db import lock_transaction
from crawler.models import Article, Story, StoryBand, utcnow
from crawler.shingles import shingles
from crawler.story_text import (
    BANDS,
    LEAD_CHARS,
    MIN_EXACT_SIZE,
    MIN_SIZE,
    NUM_PERM,
    ROWS,
    SEED,
    THRESHOLD,
    TITLE_CHECK_SIZE,
    KeyText,
    Prepared,
    band_keys,
    content_hash,
    from_bytes,
    jaccard,
    lead_text_size,
    load_signature,
    normalize,
    prepare,
    same_story,
    signature,
    text_size,
    titles_agree,
    to_bytes,
)

if TYPE_CHECKING:
    from crawler.minhash import MinHash

#: Called inside a story merge, after articles moved and before the dropped story goes:
#: ``(session, keep_id, drop_id) -> True`` when rows must stay with the dropped story.
MergeHook = Callable[[Session, int, int], bool]

__all__ = [
    "BANDS",
    "MIN_EXACT_SIZE",
    "MIN_SIZE",
    "NUM_PERM",
    "ROWS",
    "SEED",
    "THRESHOLD",
    "TITLE_CHECK_SIZE",
    "WINDOW",
    "KeyText",
    "MergeHook",
    "attach_article",
    "band_keys",
    "content_hash",
    "from_bytes",
    "jaccard",
    "merge_stories",
    "normalize",
    "reindex_article",
    "repair_recent",
    "same_story",
    "shingles",
    "signature",
    "text_size",
    "titles_agree",
    "to_bytes",
]

WINDOW = timedelta(days=14)
MAX_CANDIDATES = 50
PER_BAND = 200  # rows read per band key: bounds a band shared by boilerplate

_LOCK_KEY = int.from_bytes(
    hashlib.blake2b(b"wirewatch.dedupe", digest_size=8).digest(), "big", signed=True
)
_HEADER = 13  # serialised seed (8 bytes), negated permutation count (4), scheme code (1)


# -- the text side is crawler.story_text; here, what reads and writes the database ---------


def _article_text(article: Article) -> tuple[str, str]:
    return article.title or "", article.body or article.summary or ""


# -- database ------------------------------------------------------------------------------


def _lock(session: Session) -> None:
    """Serialise story assignment across processes (PostgreSQL; held until commit)."""
    lock_transaction(session, _LOCK_KEY)


# A story or article in a plan: ("db", id) when stored before, ("new", i) for the batch's
# i-th article (or the story it creates). Tuples order older before newer.
Ref = tuple[str, int]
_CHUNK = 400  # values per IN list (or key array) in one statement


def plan_stories(
    session: Session,
    texts: Sequence[Prepared],
    *,
    since: datetime,
    now: datetime,
    threshold: float = THRESHOLD,
) -> list[Ref]:
    """The story of each text, deciding them in order as if each earlier one were stored.

    Returns ``("db", story_id)`` to join a stored story or ``("new", j)`` for the story that
    the batch's ``j``-th text creates (``j == i`` when text ``i`` creates it). Reads the
    stored side once per batch (one exact-hash query, one band-candidate query, one
    signature fetch per chunk of keys); earlier texts of the batch are matched in memory by
    the same rules. Call with the story lock held.
    """
    session.flush()  # the queries below go through the connection, without autoflush
    conn = session.connection()
    exact = _stored_exact(conn, [t.digest for t in texts if t.size >= MIN_EXACT_SIZE], since)
    bands = _stored_bands(conn, list({k for t in texts for k in t.keys}), since)
    stored = _StoredCandidates(conn)
    # Prefetch what the stored candidates of every text need (the in-memory side can only
    # push stored ones out of the top ranks, never in).
    stored_only: dict[int, tuple[dict[Ref, tuple[int, Ref]], list[Ref]]] = {}
    for i, t in enumerate(texts):
        if t.sig is not None:
            hits, ranked = _ranked(t.keys, bands, {}, {})
            stored_only[i] = (hits, ranked)
            stored.need_scores(t, ranked, threshold)
    stored.flush()

    first_seen: dict[Ref, datetime] = {("db", sid): seen for sid, seen in bands.seen.items()}
    first_seen |= {("db", sid): seen for seen, sid, _ in exact.values()}
    mem_exact: dict[str, list[Ref]] = defaultdict(list)
    # per key the batch's texts so far, newest first, as -1 - i (stored articles are >= 1)
    mem_bands: dict[int, list[int]] = defaultdict(list)
    mem_story: dict[int, Ref] = {}
    plan: list[Ref] = []
    for i, t in enumerate(texts):
        story: Ref | None = None
        if t.size >= MIN_EXACT_SIZE:
            options = [(first_seen[r], r) for r in mem_exact.get(t.digest, ())]
            if t.digest in exact:
                seen, sid, _ = exact[t.digest]
                options.append((seen, ("db", sid)))
            if options:
                story = min(options)[1]
        if story is None and t.sig is not None and t.keys:
            if i in stored_only and not any(k in mem_bands for k in t.keys):
                hits, ranked = stored_only[i]  # no earlier text of the batch shares a band
            else:
                hits, ranked = _ranked(t.keys, bands, mem_bands, mem_story)
            story = _best_similar(t, ranked, hits, texts, stored, threshold)
        if story is None:
            story = ("new", i)
            first_seen[story] = now
        plan.append(story)
        mem_exact[t.digest].append(story)
        mem_story[-1 - i] = story
        for k in t.keys:
            mem_bands[k].insert(0, -1 - i)
    return plan


class _Bands:
    """Stored band rows by key (newest first, at most ``PER_BAND`` each) and the first-seen
    time of their stories; rows whose story is older than the window are kept out of the
    candidates but still take their place in the key's ``PER_BAND``."""

    def __init__(
        self,
        rows: Mapping[int, list[int]],
        story_of: dict[int, int],
        seen: dict[int, datetime],
        since: datetime,
    ) -> None:
        self.seen = seen
        self.story_of = story_of  # article -> story, of every row read
        stale = {story_id for story_id, first in seen.items() if first < since}
        old = {a for a, story_id in story_of.items() if story_id in stale}
        # per key: the articles of the rows in the window (newest first), and their places
        # among all the key's rows (None: every row is in the window)
        self._window: dict[int, tuple[list[int], list[int] | None]] = {}
        for key, articles in rows.items():
            articles.sort(reverse=True)  # newest first (a key holds an article once)
            if not old or old.isdisjoint(articles):
                self._window[key] = (articles, None)
            else:
                places = [i for i, a in enumerate(articles) if a not in old]
                self._window[key] = ([articles[i] for i in places], places)

    def in_window(self, key: int, room: int) -> list[int]:
        """The articles of the key's first ``room`` rows whose story is in the window."""
        found = self._window.get(key)
        if found is None:
            return []
        articles, places = found
        if places is None:
            return articles if len(articles) <= room else articles[:room]
        if not places or places[-1] < room:
            return articles
        return articles[: bisect_left(places, room)]


_EXACT = (
    select(Article.content_hash, Story.first_seen_at, Story.id, Article.id)
    .join(Story, Story.id == Article.story_id)
    .where(Article.content_hash.in_(bindparam("digests", expanding=True)))
    .where(Story.first_seen_at >= bindparam("since"))
)


def _stored_exact(
    conn: Connection, digests: Sequence[str], since: datetime
) -> dict[str, tuple[datetime, int, int]]:
    """For each digest, the oldest in-window story holding it: (first seen, story, article)."""
    found: dict[str, tuple[datetime, int, int]] = {}
    unique = list(dict.fromkeys(digests))
    for start in range(0, len(unique), _CHUNK):
        rows = conn.execute(_EXACT, {"digests": unique[start : start + _CHUNK], "since": since})
        for digest, seen, story_id, article_id in rows:
            best = found.get(digest)
            if best is None or (seen, story_id) < best[:2]:
                found[digest] = (seen, story_id, article_id)
    return found


def _newest_band_rows(dialect: str, count: int) -> str:
    """SQL for the newest ``PER_BAND`` rows of each of ``count`` band keys: (band, article,
    story), as driver SQL for ``dialect``.

    Each key is one walk down the ``(band, article_id, story_id)`` index, newest first,
    stopping at ``PER_BAND`` rows without visiting the table: on SQLite one ``UNION ALL``
    term per key (its parameters: the keys), on PostgreSQL a ``LATERAL`` join over an array
    of the keys (its parameter: the key list). The query returns tens of thousands of rows
    per batch, so it goes through the driver: SQLAlchemy's row objects and its rendering of
    an expanding ``IN`` at every call cost more than the database's own work.
    """
    if dialect == "postgresql":
        return (
            "SELECT k.band, b.article_id, b.story_id FROM unnest(%s::bigint[]) AS k(band) "
            "CROSS JOIN LATERAL (SELECT article_id, story_id FROM story_bands "
            f"WHERE story_bands.band = k.band ORDER BY article_id DESC LIMIT {PER_BAND:d}) AS b"
        )
    one = (
        "SELECT * FROM (SELECT band, article_id, story_id FROM story_bands WHERE band = ? "
        f"ORDER BY article_id DESC LIMIT {PER_BAND:d})"
    )
    return " UNION ALL ".join([one] * count)


#: Keys per SQLite statement. Each compiled statement stays in the connection's statement
#: cache (about 1.5 KB per term), so the sizes are this or a power of two below it: at most
#: seven statement shapes per connection, whatever the batch sizes.
_UNION_TERMS = 64


def _union_sizes(n: int) -> list[int]:
    """``n`` keys as statement sizes: ``_UNION_TERMS`` each, then powers of two."""
    sizes = []
    while n:
        size = _UNION_TERMS if n >= _UNION_TERMS else 1 << (n.bit_length() - 1)
        sizes.append(size)
        n -= size
    return sizes


_FIRST_SEEN = select(Story.id, Story.first_seen_at).where(
    Story.id.in_(bindparam("ids", expanding=True))
)


def _stored_bands(conn: Connection, keys: Sequence[int], since: datetime) -> _Bands:
    """The newest ``PER_BAND`` stored rows of each band key, and their stories' first-seen
    times (the window filter is :class:`_Bands`' own).

    One query per ``_UNION_TERMS`` keys on SQLite, per ``_CHUNK`` on PostgreSQL
    (:func:`_newest_band_rows`); a band shared by many articles (boilerplate) returns at
    most ``PER_BAND`` rows. Then one query per ``_CHUNK`` stories for when they were first
    seen (a row whose story is gone is dropped).
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":  # one statement text whatever the number of keys
        sizes = [min(_CHUNK, len(keys) - start) for start in range(0, len(keys), _CHUNK)]
    else:
        sizes = _union_sizes(len(keys))
    found: list[tuple[int, int, int]] = []
    cursor = conn.connection.cursor()
    try:
        start = 0
        for size in sizes:
            chunk = list(keys[start : start + size])
            start += size
            params = (chunk,) if dialect == "postgresql" else chunk
            cursor.execute(_newest_band_rows(dialect, size), params)
            found += cursor.fetchall()
    finally:
        cursor.close()
    # Columns, not rows: the sets, dicts and slices below run in C over tens of thousands
    # of rows per batch.
    bands, articles, story_ids = zip(*found, strict=True) if found else ((), (), ())
    stories = sorted(set(story_ids))
    seen: dict[int, datetime] = {}
    for start in range(0, len(stories), _CHUNK):
        rows_seen = conn.execute(_FIRST_SEEN, {"ids": stories[start : start + _CHUNK]})
        seen.update((story_id, first) for story_id, first in rows_seen)
    if len(seen) != len(stories):  # a story went meanwhile: its rows go too
        kept = [row for row in found if row[2] in seen]
        bands, articles, story_ids = zip(*kept, strict=True) if kept else ((), (), ())
    story_of = dict(zip(articles, story_ids, strict=True))
    rows: dict[int, list[int]] = {}
    at = 0
    for band, group in groupby(bands):  # each key's rows come together, one query term each
        n = len(list(group))
        rows.setdefault(band, []).extend(articles[at : at + n])
        at += n
    return _Bands(rows, story_of, seen, since)


def _ranked(
    keys: Sequence[int],
    stored: _Bands,
    batch: Mapping[int, list[int]],
    batch_story: Mapping[int, Ref],
) -> tuple[dict[Ref, tuple[int, Ref]], list[Ref]]:
    """A text's candidates: the ranked articles (most shared bands first, then the older
    article; at most ``MAX_CANDIDATES``) and, for each, (shared bands, its story).

    Per key the newest ``PER_BAND`` rows count, the batch's own (newest) first, then the
    stored ones in the window. Articles are counted as integers: a stored article by its id,
    the batch's ``i``-th text as ``-1 - i`` (its story in ``batch_story``).
    """
    per_key: list[list[int]] = []
    for k in keys:
        mine = batch.get(k)
        if mine:
            rows = mine[:PER_BAND]
            room = PER_BAND - len(rows)
            if room > 0:
                rows += stored.in_window(k, room)
            per_key.append(rows)
        else:
            per_key.append(stored.in_window(k, PER_BAND))
    counts = Counter(chain.from_iterable(per_key))  # counted in C
    least = 0  # the count of the last ranked candidate: fewer cannot rank
    if len(counts) > MAX_CANDIDATES:
        least = sorted(counts.values(), reverse=True)[MAX_CANDIDATES - 1]
    # the order of refs: stored ("db", id) before the batch's ("new", i), each ascending
    top = sorted([(-n, a < 0, abs(a), a) for a, n in counts.items() if n >= least])
    hits: dict[Ref, tuple[int, Ref]] = {}
    ranked: list[Ref] = []
    for n, _, _, a in top[:MAX_CANDIDATES]:
        if a > 0:
            ref: Ref = ("db", a)
            hits[ref] = (-n, ("db", stored.story_of[a]))
        else:
            ref = ("new", -1 - a)
            hits[ref] = (-n, batch_story[a])
        ranked.append(ref)
    return hits, ranked


class _StoredCandidates:
    """Signatures and shapes of stored candidate articles, fetched in few queries."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.blobs: dict[int, bytes | None] = {}
        self.shapes: dict[int, tuple[float, str] | None] = {}
        self._want_blobs: set[int] = set()
        self._want_shapes: set[int] = set()
        self._pending: list[tuple[Prepared, list[int], float]] = []

    def need_scores(self, t: Prepared, ranked: Sequence[Ref], threshold: float) -> None:
        ids = [i for kind, i in ranked if kind == "db"]
        self._want_blobs.update(i for i in ids if i not in self.blobs)
        self._pending.append((t, ids, threshold))

    def flush(self) -> None:
        """Fetch wanted signatures, then the shapes of each text's most similar candidates
        (the first that :func:`_best_similar` checks; it fetches the rest if it needs them)."""
        self._fetch_blobs()
        for t, ids, threshold in self._pending:
            assert t.sig is not None
            scores = _scores(t.sig, [self.blobs.get(i) for i in ids])
            top = max(scores, default=-1.0)
            if top >= threshold:
                self._want_shapes.update(i for i, sc in zip(ids, scores, strict=True) if sc == top)
        self._pending.clear()
        self._fetch_shapes()

    def blob(self, article_id: int) -> bytes | None:
        if article_id not in self.blobs:  # only when the batch reshuffled the ranks
            self._want_blobs.add(article_id)
            self._fetch_blobs()
        return self.blobs.get(article_id)

    def shape(self, article_id: int, also: Iterable[int] = ()) -> tuple[float, str] | None:
        """(size, title) of a stored article, None if it is gone; a fetch takes ``also``."""
        if article_id not in self.shapes:
            self._want_shapes.add(article_id)
            self._want_shapes.update(also)
            self._fetch_shapes()
        return self.shapes.get(article_id)

    def _fetch_blobs(self) -> None:
        want = sorted(self._want_blobs)
        self._want_blobs.clear()
        for start in range(0, len(want), _CHUNK):
            chunk = want[start : start + _CHUNK]
            self.blobs |= dict.fromkeys(chunk)
            rows = self.conn.execute(_BLOBS, {"ids": chunk})
            self.blobs.update((i, blob) for i, blob in rows)

    def _fetch_shapes(self) -> None:
        want = sorted(i for i in self._want_shapes if i not in self.shapes)
        self._want_shapes.clear()
        self.shapes |= dict.fromkeys(want)  # None: gone meanwhile
        for start in range(0, len(want), _CHUNK):
            for i, size, title in _shapes(self.conn, want[start : start + _CHUNK]):
                self.shapes[i] = (size, title)


def _best_similar(
    t: Prepared,
    ranked: Sequence[Ref],
    hits: Mapping[Ref, tuple[int, Ref]],
    texts: Sequence[Prepared],
    stored: _StoredCandidates,
    threshold: float,
) -> Ref | None:
    """The story of the most similar verified candidate (rule 2); ties go to the older story.

    Candidates are checked from the most similar down and the first that passes decides:
    the size and title of the others are read only when a closer one fails.
    """
    assert t.sig is not None
    blobs = [stored.blob(i) if kind == "db" else texts[i].blob for kind, i in ranked]
    close = [
        (score, hits[ref][1], ref)
        for ref, score in zip(ranked, _scores(t.sig, blobs), strict=True)
        if score >= threshold
    ]
    close.sort(key=lambda c: (-c[0], c[1]))
    for n, (score, story, (kind, i)) in enumerate(close):
        if kind == "db":
            rest = (j for _, _, (k, j) in close[n + 1 :] if k == "db")
            shape = stored.shape(i, also=rest)
            if shape is None:
                continue  # deleted meanwhile
            cand_size, cand_title = shape
        else:
            cand_size, cand_title = texts[i].lead_size(), texts[i].title
        if same_story(score, t.size, cand_size, t.title, cand_title, threshold):
            return story
    return None


_BLOBS = select(Article.id, Article.minhash).where(Article.id.in_(bindparam("ids", expanding=True)))
_SHAPES = select(
    Article.id,
    Article.title,
    func.substr(case((Article.body != "", Article.body), else_=Article.summary), 1, LEAD_CHARS),
).where(Article.id.in_(bindparam("ids", expanding=True)))


def _shapes(conn: Connection, ids: Sequence[int]) -> list[tuple[int, float, str]]:
    """(id, size, title) of articles; the size is measured on the text's first characters."""
    if not ids:
        return []
    rows = conn.execute(_SHAPES, {"ids": list(ids)}).all()
    return [(i, lead_text_size(t or "", body or ""), t or "") for i, t, body in rows]


def _scores(sig: MinHash, blobs: Sequence[bytes | None]) -> list[float]:
    """``jaccard(sig, from_bytes(blob))`` for each blob, -1.0 where a blob is not ours.

    Compares the stored bytes directly: a blob with our header (seed, permutation count,
    scheme) and length holds its hash values at a fixed offset.
    """
    mine = to_bytes(sig)
    header, size = mine[:_HEADER], len(mine)
    out = [-1.0] * len(blobs)
    good: list[int] = []
    values: list[bytes] = []
    for i, blob in enumerate(blobs):
        if blob is not None and len(blob) == size and blob[:_HEADER] == header:
            good.append(i)
            values.append(blob[_HEADER:])
    if good:
        import numpy as np  # loaded already: ``sig`` is a crawler.minhash.MinHash

        stored = np.frombuffer(b"".join(values), dtype="<u4").reshape(len(good), NUM_PERM)
        same = np.count_nonzero(stored == sig.hashvalues, axis=1)
        for i, n in zip(good, same.tolist(), strict=True):
            out[i] = float(n) / float(NUM_PERM)
    return out


def _lead_is_official(session: Session, story: Story, official_sources: Collection[str]) -> bool:
    """Whether the story's lead was chosen on purpose rather than by arrival order.

    True when the lead's source is in ``official_sources``, or when the lead is not the
    story's first article: only an official article (or a merge) moves the lead, so a caller
    that passes just ``official=True`` still keeps the first official lead.
    """
    if story.lead_article_id is None:
        return False
    first = session.execute(
        select(func.min(Article.id)).where(Article.story_id == story.id)
    ).scalar_one_or_none()
    if first is not None and first != story.lead_article_id:
        return True
    if not official_sources:
        return False
    source = session.execute(
        select(Article.source_id).where(Article.id == story.lead_article_id)
    ).scalar_one_or_none()
    return source in official_sources


def attach_article(
    session: Session,
    article: Article,
    *,
    official: bool = False,
    official_sources: Collection[str] = (),
    now: datetime | None = None,
    window: timedelta = WINDOW,
    threshold: float = THRESHOLD,
) -> tuple[Story, bool]:
    """Put a freshly inserted article into a story; returns (story, created).

    Call within the transaction that inserted ``article``. Sets ``content_hash`` (unless the
    caller already did), ``minhash`` and ``story_id``, and writes the band keys. The story's
    lead stays its first article, unless the new one is official (``official=True`` or its
    source in ``official_sources``) and the lead is still the first article and not from a
    source in ``official_sources``. Idempotent for an attached article.
    """
    session.flush()  # a no-op when the caller has just flushed the article
    if article.story_id is not None:
        story = session.get(Story, article.story_id)
        if story is not None:
            return story, False
    now = now or utcnow()

    # Text work first, outside the lock; the article is written once, at the end.
    title, body = _article_text(article)
    prepared = prepare(title, body, article.content_hash)
    _lock(session)
    ((kind, found),) = plan_stories(
        session, [prepared], since=now - window, now=now, threshold=threshold
    )
    story_id = found if kind == "db" else None
    if story_id is None:
        story = Story(
            lead_article_id=article.id,
            title=article.title or "",
            article_count=1,
            first_seen_at=now,
            updated_at=now,
        )
        session.add(story)
        article.story = story
        created = True
    else:
        story = _join_story(session, story_id, article, now, official, official_sources)
        article.story_id = story_id
        created = False
    article.content_hash = prepared.digest
    if prepared.blob is not None:
        article.minhash = prepared.blob
    session.flush()  # the new story (if any) and the article's hash, signature and story
    _write_bands(session, article.id, story.id, prepared.keys, now)
    return story, created


def attach_batch(
    session: Session,
    articles: Sequence[tuple[int, Prepared]],
    *,
    official: bool = False,
    now: datetime | None = None,
    window: timedelta = WINDOW,
    threshold: float = THRESHOLD,
) -> list[tuple[int, bool]]:
    """Put freshly inserted articles (id, text work) into stories, in order; returns
    (story id, created) for each.

    The same decisions and lead rules as :func:`attach_article` called on each in turn,
    with bulk writes: one INSERT of the new stories, one UPDATE per story shape, one UPDATE
    of the articles and one INSERT of their band keys. Call within the inserting
    transaction; takes the story lock.
    """
    now = now or utcnow()
    texts = [p for _, p in articles]
    _lock(session)
    plan = plan_stories(session, texts, since=now - window, now=now, threshold=threshold)
    members: dict[Ref, list[int]] = defaultdict(list)
    for i, ref in enumerate(plan):
        members[ref].append(i)
    conn = session.connection()
    story_ids: dict[Ref, int] = {}

    new_refs = [ref for ref in members if ref[0] == "new"]
    if new_refs:
        rows = []
        for ref in new_refs:
            group = members[ref]
            # attach_article's lead rule: an official article joining a story led by its
            # first, non-official article takes the lead; the first to do so keeps it.
            lead = group[1] if official and len(group) > 1 else group[0]
            rows.append(
                {
                    "lead_article_id": articles[lead][0],
                    "title": texts[lead].title,
                    "article_count": len(group),
                    "first_seen_at": now,
                    "updated_at": now,
                }
            )
        ids = conn.execute(
            insert(Story.__table__).returning(Story.id, sort_by_parameter_order=True), rows
        ).scalars()
        story_ids.update(zip(new_refs, ids, strict=True))

    counts, leads = [], []
    for ref, group in members.items():
        if ref[0] != "db":
            continue
        story_ids[ref] = ref[1]
        row = {"s_id": ref[1], "n": len(group), "now": now}
        story = session.get(Story, ref[1]) if official else None
        if story is not None and not _lead_is_official(session, story, ()):
            lead = group[0]
            leads.append(row | {"new_lead": articles[lead][0], "new_title": texts[lead].title})
        else:
            counts.append(row)
    stories = Story.__table__
    bump = {
        "article_count": stories.c.article_count + bindparam("n"),
        "updated_at": bindparam("now"),
    }
    where = stories.c.id == bindparam("s_id")
    if counts:
        conn.execute(update(stories).where(where).values(**bump), counts)
    if leads:
        conn.execute(
            update(stories)
            .where(where)
            .values(**bump, lead_article_id=bindparam("new_lead"), title=bindparam("new_title")),
            leads,
        )

    articles_t = Article.__table__
    conn.execute(
        update(articles_t)
        .where(articles_t.c.id == bindparam("a_id"))
        .values(story_id=bindparam("s_id")),
        [{"a_id": a_id, "s_id": story_ids[plan[i]]} for i, (a_id, _) in enumerate(articles)],
    )
    _insert_bands(
        conn,
        [(a_id, k, story_ids[plan[i]]) for i, (a_id, t) in enumerate(articles) for k in t.keys],
        now,
    )
    if session.identity_map:
        session.expire_all()  # stories changed under the ORM's feet
    return [(story_ids[ref], ref == ("new", i)) for i, ref in enumerate(plan)]


def _write_bands(
    session: Session, article_id: int, story_id: int, keys: Sequence[int], now: datetime
) -> None:
    """Insert an article's band keys in one statement."""
    _insert_bands(session.connection(), [(article_id, k, story_id) for k in keys], now)


_SQLITE_BANDS = (
    "INSERT INTO story_bands (article_id, band, story_id, created_at) VALUES (?, ?, ?, ?)"
)


def _insert_bands(conn: Connection, rows: Sequence[tuple[int, int, int]], now: datetime) -> None:
    """Insert band rows (article id, band key, story id), all created at ``now``.

    32 rows per article make this a batch's largest write. On SQLite the rows go to the
    driver as they are, the timestamp converted once, instead of through SQLAlchemy's
    per-row parameter processing; PostgreSQL keeps SQLAlchemy's batched multi-row VALUES.
    """
    if not rows:
        return
    column = StoryBand.__table__.c.created_at
    if conn.dialect.name == "sqlite":
        # the dialect's own type (its text format), not the generic DateTime
        convert = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        created = convert(now) if convert is not None else now
        conn.exec_driver_sql(_SQLITE_BANDS, [(a, k, s, created) for a, k, s in rows])
        return
    conn.execute(
        insert(StoryBand.__table__),
        [{"article_id": a, "band": k, "story_id": s, "created_at": now} for a, k, s in rows],
    )


def reindex_article(session: Session, article: Article, *, now: datetime | None = None) -> None:
    """Refresh the content hash, signature and band keys of an article whose text changed.

    The article keeps its story (a late text never moves or merges stories: alerts already
    went out under it); later copies find it through the new band keys. A story whose
    title is empty takes the article's title when the article leads it.
    """
    title, body = _article_text(article)
    prepared = prepare(title, body)
    article.content_hash = prepared.digest
    article.minhash = prepared.blob
    session.execute(delete(StoryBand).where(StoryBand.article_id == article.id))
    if prepared.keys and article.story_id is not None:
        _write_bands(session, article.id, article.story_id, prepared.keys, now or utcnow())
    if article.story_id is not None and title:
        session.execute(
            update(Story)
            .where(Story.id == article.story_id, Story.lead_article_id == article.id)
            .where(Story.title == "")
            .values(title=title)
        )


def _join_story(
    session: Session,
    story_id: int,
    article: Article,
    now: datetime,
    official: bool,
    official_sources: Collection[str],
) -> Story:
    """Count ``article`` into story ``story_id`` (lead rules as in ``attach_article``).

    One UPDATE … RETURNING refreshes the story; it is read beforehand only when the article
    is official and may take the lead.
    """
    values: dict[str, object] = {"article_count": Story.article_count + 1, "updated_at": now}
    if official or article.source_id in official_sources:
        current = session.get(Story, story_id, populate_existing=True)
        assert current is not None
        if not _lead_is_official(session, current, official_sources):
            values |= {"lead_article_id": article.id, "title": article.title or ""}
    story = session.execute(
        update(Story)
        .where(Story.id == story_id)
        .values(**values)
        .returning(Story)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).scalar_one()
    return story


def merge_stories(
    session: Session,
    keep_id: int,
    drop_id: int,
    *,
    official_sources: Collection[str] = (),
    now: datetime | None = None,
    on_merge: MergeHook | None = None,
) -> Story:
    """Move every article and band key of story ``drop_id`` into ``keep_id``.

    The kept story keeps its lead (an official lead of the dropped story wins over a
    non-official one). ``on_merge(session, keep_id, drop_id)`` then moves what other
    packages hold about the dropped story (alerts: :func:`alerts.story_hooks.move_alerts`)
    and returns True when some of it has to stay with the dropped story: then the dropped
    story stays behind as an empty shell holding that history (article_count 0, no lead).
    Otherwise the dropped story is deleted (and rows referring to it cascade away).
    """
    keep = session.get(Story, keep_id)
    drop = session.get(Story, drop_id)
    if keep is None or drop is None:
        raise LookupError(f"no story {keep_id if keep is None else drop_id}")
    if keep_id == drop_id:
        return keep
    now = now or utcnow()
    _lock(session)
    session.flush()
    take_drop_lead = keep.lead_article_id is None or (
        drop.lead_article_id is not None
        and _lead_is_official(session, drop, official_sources)
        and not _lead_is_official(session, keep, official_sources)
    )

    session.execute(
        update(Article)
        .where(Article.story_id == drop_id)
        .values(story_id=keep_id)
        .execution_options(synchronize_session="fetch")
    )
    session.execute(
        update(StoryBand)
        .where(StoryBand.story_id == drop_id)
        .values(story_id=keep_id)
        .execution_options(synchronize_session="fetch")
    )
    held = on_merge(session, keep_id, drop_id) if on_merge is not None else False

    lead_id = drop.lead_article_id if take_drop_lead else keep.lead_article_id
    lead_title = (
        session.execute(select(Article.title).where(Article.id == lead_id)).scalar_one_or_none()
        if lead_id is not None
        else None
    )
    count = session.execute(
        select(func.count()).select_from(Article).where(Article.story_id == keep_id)
    ).scalar_one()
    keep.lead_article_id = lead_id
    keep.title = lead_title if lead_title is not None else keep.title
    keep.article_count = count
    keep.first_seen_at = min(keep.first_seen_at, drop.first_seen_at)
    keep.updated_at = now

    if held:
        drop.article_count = 0
        drop.lead_article_id = None
        drop.updated_at = now
    else:
        session.expunge(drop)
        session.execute(delete(Story).where(Story.id == drop_id))
    session.flush()
    return keep


def repair_recent(
    session: Session,
    since: datetime,
    *,
    official_sources: Collection[str] = (),
    now: datetime | None = None,
    threshold: float = THRESHOLD,
    on_merge: MergeHook | None,
) -> list[tuple[int, int]]:
    """Merge stories first seen since ``since`` whose lead articles are the same story.

    Leads are compared with the same rules as ``attach_article`` (exact content hash for
    texts of ``MIN_EXACT_SIZE``+, verified LSH similarity by :func:`same_story`). Each group
    merges into its oldest story; ``on_merge`` is passed to :func:`merge_stories` (required:
    a caller states whether other rows refer to stories). Returns the (keep_id, drop_id)
    merges done, in order.
    """
    _lock(session)
    session.flush()
    rows = session.execute(
        select(
            Story.id,
            Story.first_seen_at,
            Article.content_hash,
            Article.minhash,
            Article.title,
            Article.body,
            Article.summary,
        )
        .join(Article, Article.id == Story.lead_article_id)
        .where(Story.first_seen_at >= since)
        .order_by(Story.first_seen_at, Story.id)
    ).all()
    order = {row.id: i for i, row in enumerate(rows)}
    parent = {row.id: row.id for row in rows}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            # the older story (earlier in ``rows``) becomes the root
            if order[rb] < order[ra]:
                ra, rb = rb, ra
            parent[rb] = ra

    by_hash: dict[str, list[int]] = defaultdict(list)
    by_band: dict[int, list[int]] = defaultdict(list)
    sigs: dict[int, MinHash] = {}
    shapes: dict[int, tuple[float, str]] = {}
    for row in rows:
        size = text_size(f"{row.title}\n{(row.body or row.summary)[:LEAD_CHARS]}")
        shapes[row.id] = (size, row.title or "")
        sig = load_signature(row.minhash)
        if sig is not None:
            sigs[row.id] = sig
            for k in band_keys(sig):
                by_band[k].append(row.id)
        if row.content_hash and size >= MIN_EXACT_SIZE:
            by_hash[row.content_hash].append(row.id)

    for ids in by_hash.values():
        for other in ids[1:]:
            union(ids[0], other)
    checked: set[tuple[int, int]] = set()
    for ids in by_band.values():
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                pair = (a, b) if a < b else (b, a)
                if pair in checked or find(a) == find(b):
                    continue
                checked.add(pair)
                (size_a, title_a), (size_b, title_b) = shapes[a], shapes[b]
                score = jaccard(sigs[a], sigs[b])
                if same_story(score, size_a, size_b, title_a, title_b, threshold):
                    union(a, b)

    merges = [(find(row.id), row.id) for row in rows if find(row.id) != row.id]
    for keep_id, drop_id in merges:
        merge_stories(
            session,
            keep_id,
            drop_id,
            official_sources=official_sources,
            now=now,
            on_merge=on_merge,
        )
    return merges
