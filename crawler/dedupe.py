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

Cost per article does not grow with the archive: each band key reads at most ``PER_BAND``
of its newest rows from the ``(band, article_id)`` index, at most ``MAX_CANDIDATES``
signatures are compared, and the article's band keys go in with one multi-row INSERT.

Concurrency: on PostgreSQL ``attach_article`` (after its text work, before its first lookup)
and ``repair_recent`` take one transaction-level advisory lock, so two processes attaching
copies of one story serialise and the second sees the first's committed story (READ
COMMITTED, the default). SQLite serialises writers with ``BEGIN IMMEDIATE`` already. A caller
running at REPEATABLE READ or above, or anything that bypasses ``attach_article``, can still
split a story; ``repair_recent`` merges those.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np
from datasketch import LeanMinHash, MinHash
from sqlalchemy import (
    BigInteger,
    Integer,
    TextClause,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from crawler import shingles as _sh
from crawler.db import lock_transaction
from crawler.models import Article, Story, StoryBand, UTCDateTime, utcnow
from crawler.shingles import shingles

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

NUM_PERM = 128
SEED = 20_240_601
BANDS = 32
ROWS = 4
THRESHOLD = 0.5
MIN_SIZE = 15.0  # word-equivalents (a CJK character counts 1/2)
TITLE_CHECK_SIZE = 60.0  # below this, titles must agree too
TITLE_AGREEMENT = 0.7  # share of the shorter title's words found in the other title
MIN_EXACT_SIZE = 8.0
_LEAD_CHARS = 2_000  # enough text to tell a feed item from an article
WINDOW = timedelta(days=14)
MAX_CANDIDATES = 50
PER_BAND = 200  # rows read per band key: bounds a band shared by boilerplate

_SCHEME = "affine32"  # explicit: datasketch's default scheme changed in 2.0
_BYTEORDER = "<"
_BAND_PERSON = b"wirewatch-band1"  # versions the band-key derivation
_LOCK_KEY = int.from_bytes(
    hashlib.blake2b(b"wirewatch.dedupe", digest_size=8).digest(), "big", signed=True
)
_EMPTY = np.uint32(0xFFFFFFFF)
_HEADER = 13  # serialised seed (8 bytes), negated permutation count (4), scheme code (1)
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=_SCHEME)

assert BANDS * ROWS <= NUM_PERM


# -- pure functions ------------------------------------------------------------------------


def normalize(text_: str) -> str:
    """NFKC, casefold, punctuation/symbols/whitespace folded to single spaces.

    Each character of a script written without spaces is its own unit, so spacing
    differences inside Chinese text disappear too.
    """
    return " ".join(_sh.tokens(text_))


def content_hash(title: str, body: str) -> str:
    """Stable sha256 hex of the normalised title and body."""
    data = f"{normalize(title or '')}\n{normalize(body or '')}".encode()
    return hashlib.sha256(data).hexdigest()


def text_size(text_: str) -> float:
    """Length of ``text_`` in word-equivalents (a CJK character counts 1/2)."""
    return _sh.size(_sh.tokens(text_))


def titles_agree(a: str, b: str) -> bool:
    """Whether most words of the shorter title (≥ ``TITLE_AGREEMENT``) are in the other one,
    and the two don't each carry a number the other lacks.

    Words are folded like every dedupe key (NFKC, casefold, punctuation dropped; a CJK
    character is a word). An empty title agrees with nothing. A copy may gain a number
    ("UPDATE 2: …"), but "… part 1" and "… part 2", or "rose 5% in May" and "rose 7% in
    June", over one summary are different items.
    """
    ta, tb = set(_sh.tokens(a)), set(_sh.tokens(b))
    if not ta or not tb:
        return False
    if _numbers(ta - tb) and _numbers(tb - ta):
        return False
    return len(ta & tb) / min(len(ta), len(tb)) >= TITLE_AGREEMENT


def _numbers(words: set[str]) -> set[str]:
    return {w for w in words if any(c.isdigit() for c in w)}


def same_story(
    score: float,
    size_a: float,
    size_b: float,
    title_a: str,
    title_b: str,
    threshold: float = THRESHOLD,
) -> bool:
    """The similarity rule (rule 2 of the module docstring) for one pair of texts.

    ``score`` is their estimated Jaccard; sizes are in word-equivalents (:func:`text_size`).
    """
    smaller = min(size_a, size_b)
    if smaller < MIN_SIZE or score < threshold:
        return False
    return smaller >= TITLE_CHECK_SIZE or titles_agree(title_a, title_b)


def _hash32(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=4).digest(), "little")


def signature(text_or_shingles: str | Iterable[str]) -> LeanMinHash:
    """MinHash (128 permutations, fixed seed) of a text or of a ready shingle set."""
    items = shingles(text_or_shingles) if isinstance(text_or_shingles, str) else text_or_shingles
    m = MinHash(
        num_perm=NUM_PERM,
        seed=SEED,
        hashfunc=_hash32,
        permutations=_TEMPLATE.permutations,
        scheme=_SCHEME,
    )
    m.update_batch(items)
    return LeanMinHash(m)


def to_bytes(sig: LeanMinHash) -> bytes:
    """Serialise a signature (datasketch's LeanMinHash layout, little-endian, 525 bytes)."""
    buf = bytearray(sig.bytesize(byteorder=_BYTEORDER))
    sig.serialize(buf, byteorder=_BYTEORDER)
    return bytes(buf)


def from_bytes(data: bytes) -> LeanMinHash:
    """Read a signature written by ``to_bytes``; ValueError if it is not one of ours."""
    try:
        sig = LeanMinHash.deserialize(data, byteorder=_BYTEORDER)
    except Exception as exc:  # struct.error, KeyError on an unknown scheme code …
        raise ValueError(f"not a signature: {exc}") from exc
    if sig.seed != SEED or len(sig) != NUM_PERM or sig.scheme != _SCHEME:
        raise ValueError("signature made with other MinHash parameters")
    return sig


def jaccard(a: LeanMinHash, b: LeanMinHash) -> float:
    """Estimated Jaccard similarity of the two shingle sets (symmetric, in [0, 1])."""
    return a.jaccard(b)


def band_keys(sig: LeanMinHash) -> list[int]:
    """The 32 LSH band keys of a signature, as signed 64-bit ints ([] for an empty text)."""
    hv = np.asarray(sig.hashvalues, dtype="<u4")
    if bool(np.all(hv == _EMPTY)):
        return []
    keys = []
    for band in range(BANDS):
        chunk = band.to_bytes(1, "little") + hv[band * ROWS : (band + 1) * ROWS].tobytes()
        digest = hashlib.blake2b(chunk, digest_size=8, person=_BAND_PERSON).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def _article_text(article: Article) -> tuple[str, str]:
    return article.title or "", article.body or article.summary or ""


def _load(blob: bytes | None) -> LeanMinHash | None:
    """A stored signature, or None when absent or written with other parameters."""
    if blob is None:
        return None
    try:
        return from_bytes(blob)
    except ValueError:
        return None


# -- database ------------------------------------------------------------------------------


def _lock(session: Session) -> None:
    """Serialise story assignment across processes (PostgreSQL; held until commit)."""
    lock_transaction(session, _LOCK_KEY)


def _find_exact(session: Session, article_id: int, digest: str, since: datetime) -> int | None:
    stmt = (
        select(Article.story_id)
        .join(Story, Story.id == Article.story_id)
        .where(
            Article.content_hash == digest,
            Article.id != article_id,
            Story.first_seen_at >= since,
        )
        .order_by(Story.first_seen_at, Story.id)
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def _candidate_sql(n: int) -> TextClause:
    """The LSH candidate query for ``n`` band keys (built once per ``n``).

    One branch per band key, each reading at most ``PER_BAND`` of the newest rows of that
    band from the ``(band, article_id)`` index, so a band shared by many articles (boilerplate)
    costs at most ``PER_BAND`` rows instead of all of them. The window filter joins the story.
    """
    sql = _CANDIDATE_SQL.get(n)
    if sql is None:
        branch = (
            "SELECT * FROM (SELECT article_id, story_id FROM story_bands WHERE band = :k{i} "
            "ORDER BY article_id DESC LIMIT :per_band) AS b{i}"
        )
        union = " UNION ALL ".join(branch.format(i=i) for i in range(n))
        sql = (
            text(
                f"SELECT c.article_id, c.story_id FROM ({union}) AS c "
                "JOIN stories ON stories.id = c.story_id "
                "WHERE c.article_id != :article_id AND stories.first_seen_at >= :since"
            )
            .bindparams(
                *(bindparam(f"k{i}", type_=BigInteger()) for i in range(n)),
                bindparam("per_band", type_=Integer()),
                bindparam("article_id", type_=BigInteger()),
                bindparam("since", type_=UTCDateTime()),
            )
            .columns(article_id=Integer(), story_id=Integer())
        )
        _CANDIDATE_SQL[n] = sql
    return sql


_CANDIDATE_SQL: dict[int, TextClause] = {}


def _find_similar(
    session: Session,
    article_id: int,
    sig: LeanMinHash,
    keys: Sequence[int],
    since: datetime,
    threshold: float,
    size: float,
    title: str,
) -> int | None:
    params: dict[str, object] = {f"k{i}": k for i, k in enumerate(keys)}
    params |= {"per_band": PER_BAND, "article_id": article_id, "since": since}
    hits: Counter[int] = Counter()
    story_of: dict[int, int] = {}
    for cand_id, story_id in session.execute(_candidate_sql(len(keys)), params):
        hits[cand_id] += 1
        story_of[cand_id] = story_id
    if not hits:
        return None
    # Most shared bands first, then the older article.
    ranked = sorted(hits, key=lambda a: (-hits[a], a))[:MAX_CANDIDATES]
    rows = session.execute(select(Article.id, Article.minhash).where(Article.id.in_(ranked))).all()
    ids = [cand_id for cand_id, _ in rows]
    scores = dict(zip(ids, _scores(sig, [blob for _, blob in rows]), strict=True))
    # Only candidates over the threshold need their size and title (rarely more than one).
    close = [i for i in ids if scores[i] >= threshold]
    best: tuple[float, int] | None = None
    for cand_id, cand_size, cand_title in _shapes(session, close):
        score, story_id = scores[cand_id], story_of[cand_id]
        if not same_story(score, size, cand_size, title, cand_title, threshold):
            continue
        # Highest similarity wins; among equals, the older story (lower id).
        if best is None or (score, -story_id) > (best[0], -best[1]):
            best = (score, story_id)
    return best[1] if best else None


def _shapes(session: Session, ids: Sequence[int]) -> list[tuple[int, float, str]]:
    """(id, size, title) of articles; the size is measured on the text's first characters."""
    if not ids:
        return []
    lead = func.substr(
        case((Article.body != "", Article.body), else_=Article.summary), 1, _LEAD_CHARS
    )
    rows = session.execute(
        select(Article.id, Article.title, lead).where(Article.id.in_(list(ids)))
    ).all()
    return [(i, text_size(f"{t or ''}\n{body or ''}"), t or "") for i, t, body in rows]


def _scores(sig: LeanMinHash, blobs: Sequence[bytes | None]) -> list[float]:
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
    since = now - window

    # Text work first, outside the lock; the article is written once, at the end.
    title, body = _article_text(article)
    digest = content_hash(title, body) if article.content_hash is None else article.content_hash
    units = _sh.tokens(f"{title}\n{body}")
    size = _sh.size(units)
    sig: LeanMinHash | None = None
    keys: list[int] = []
    if size >= MIN_SIZE:
        sig = signature(_sh.shingles_of(units))
        keys = list(dict.fromkeys(band_keys(sig)))

    _lock(session)
    story_id: int | None = None
    if size >= MIN_EXACT_SIZE:
        story_id = _find_exact(session, article.id, digest, since)
    if story_id is None and sig is not None and keys:
        story_id = _find_similar(session, article.id, sig, keys, since, threshold, size, title)

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
    article.content_hash = digest
    if sig is not None:
        article.minhash = to_bytes(sig)
    session.flush()  # the new story (if any) and the article's hash, signature and story
    _write_bands(session, article.id, story.id, keys, now)
    return story, created


def _write_bands(
    session: Session, article_id: int, story_id: int, keys: Sequence[int], now: datetime
) -> None:
    """Insert an article's band keys in one multi-row INSERT."""
    if keys:
        session.connection().execute(
            insert(StoryBand),
            [
                {"article_id": article_id, "band": k, "story_id": story_id, "created_at": now}
                for k in keys
            ],
        )


def reindex_article(session: Session, article: Article, *, now: datetime | None = None) -> None:
    """Refresh the content hash, signature and band keys of an article whose text changed.

    The article keeps its story (a late text never moves or merges stories: alerts already
    went out under it); later copies find it through the new band keys. A story whose
    title is empty takes the article's title when the article leads it.
    """
    title, body = _article_text(article)
    article.content_hash = content_hash(title, body)
    units = _sh.tokens(f"{title}\n{body}")
    sig = signature(_sh.shingles_of(units)) if _sh.size(units) >= MIN_SIZE else None
    article.minhash = to_bytes(sig) if sig is not None else None
    session.execute(delete(StoryBand).where(StoryBand.article_id == article.id))
    if sig is not None and article.story_id is not None:
        keys = list(dict.fromkeys(band_keys(sig)))
        _write_bands(session, article.id, article.story_id, keys, now or utcnow())
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
    sigs: dict[int, LeanMinHash] = {}
    shapes: dict[int, tuple[float, str]] = {}
    for row in rows:
        size = text_size(f"{row.title}\n{(row.body or row.summary)[:_LEAD_CHARS]}")
        shapes[row.id] = (size, row.title or "")
        sig = _load(row.minhash)
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
