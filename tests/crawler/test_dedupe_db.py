"""Stories in the database: attach_article, merge_stories and repair_recent."""

from __future__ import annotations

import csv
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.models import Delivery, Match
from alerts.story_hooks import move_alerts
from crawler import dedupe
from crawler.dedupe import MIN_SIZE, attach_article, merge_stories, repair_recent, text_size
from crawler.models import Article, Source, Story, StoryBand

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SOURCES = ("wire", "site-a", "site-b", "gov", "gov2")

WIRE_BODY = (
    "The port authority said on Tuesday that a container ship ran aground near the northern "
    "breakwater shortly after midnight, blocking the main channel for several hours. No one "
    "was injured and there was no sign of a fuel leak, a spokesperson told reporters at a "
    "briefing. Tugboats refloated the vessel at high tide and it was towed to a repair berth. "
    "Investigators will examine whether a steering failure or the strong crosswind caused the "
    "grounding. Shipping lines warned of delays of up to a day for cargo bound for the city, "
    "and the authority said it would publish a preliminary report within two weeks."
)
OTHER_BODY = (
    "City council members voted eight to three on Monday evening to approve next year's "
    "budget, which raises spending on public libraries and road maintenance while freezing "
    "property taxes for a second consecutive year. The mayor praised the compromise, but two "
    "opposition members said the plan relied on optimistic revenue forecasts from tourism. "
    "A final reading is scheduled for the end of the month, after a public consultation on "
    "the capital projects list that includes a new swimming pool and a bus depot."
)


@pytest.fixture
def sessions(db) -> sessionmaker[Session]:  # type: ignore[no-untyped-def]
    _, factory = db
    with factory.begin() as s:
        for sid in SOURCES:
            s.add(Source(id=sid, type="rss", url=f"https://{sid}.test/f", config_url="x"))
    return factory


_n = iter(range(1_000_000))


def _add(s: Session, source: str, title: str, body: str) -> Article:
    n = next(_n)
    art = Article(
        source_id=source,
        url=f"https://{source}.test/news/{n}?utm_source=feed",
        canonical_url=f"https://{source}.test/news/{n}",
        guid=f"{source}-{n}",
        title=title,
        body=body,
    )
    s.add(art)
    s.flush()
    return art


def _count(s: Session, model: type) -> int:
    return s.scalar(select(func.count()).select_from(model)) or 0


def test_syndicated_copies_are_one_story_led_by_the_first(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        first = _add(s, "wire", "Ship runs aground, blocks port channel", WIRE_BODY)
        story, created = attach_article(s, first, now=T0)
        assert created and story.lead_article_id == first.id
        a = _add(
            s,
            "site-a",
            "Container ship aground at port | Site A News",
            "Site A News — Breaking. " + WIRE_BODY + " Subscribe to our newsletter for more.",
        )
        b = _add(
            s,
            "site-b",
            "Ship runs aground, blocks port channel",
            WIRE_BODY.replace("Tuesday", "Tuesday (local time)") + " (Reporting by Wire staff)",
        )
        for art, minute in ((a, 5), (b, 9)):
            got, created = attach_article(s, art, now=T0 + timedelta(minutes=minute))
            assert not created and got.id == story.id
    with sessions() as s:
        st = s.get(Story, story.id)
        assert st is not None
        assert st.article_count == 3
        assert st.lead_article_id == first.id
        assert st.title == "Ship runs aground, blocks port channel"
        assert st.updated_at == T0 + timedelta(minutes=9)
        assert _count(s, Story) == 1
        assert s.scalar(select(func.count(func.distinct(StoryBand.article_id)))) == 3
        assert all(a.minhash and a.content_hash for a in s.scalars(select(Article)))


def test_exact_copy_joins_by_content_hash_and_attach_is_idempotent(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        one = _add(s, "wire", "Ship runs aground", WIRE_BODY)
        two = _add(s, "site-a", "SHIP RUNS AGROUND!", WIRE_BODY.replace(",", ""))
        story, _ = attach_article(s, one, now=T0)
        assert attach_article(s, two, now=T0)[0].id == story.id
        assert one.content_hash == two.content_hash
        again, created = attach_article(s, two, now=T0)
        assert again.id == story.id and not created
        assert again.article_count == 2


def test_attach_flushes_once_and_writes_the_bands_in_one_insert(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        attach_article(s, _add(s, "wire", "Ship runs aground", WIRE_BODY), now=T0)
        copy = _add(s, "site-a", "Ship aground | Site A", "Site A: " + WIRE_BODY)
        statements: list[str] = []
        flushes: list[int] = []
        event.listen(s.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2]))
        event.listen(s, "after_flush", lambda *a: flushes.append(1))
        story, created = attach_article(s, copy, now=T0 + timedelta(hours=1))
        assert not created and story.article_count == 2
        assert len(flushes) == 1
        assert sum("INSERT INTO story_bands" in q for q in statements) == 1
        assert s.scalar(select(func.count()).where(StoryBand.article_id == copy.id)) == 32


def test_a_band_shared_by_many_articles_reads_only_its_newest_rows(  # type: ignore[no-untyped-def]
    sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedupe, "PER_BAND", 2)
    with sessions.begin() as s:
        first, _ = attach_article(s, _add(s, "wire", "Ship runs aground", WIRE_BODY), now=T0)
        for i, source in enumerate(("site-a", "site-b", "gov")):
            body = f"{source} report {i}: " + WIRE_BODY
            story, created = attach_article(s, _add(s, source, "Ship aground", body), now=T0)
            assert story.id == first.id and not created
        art = _add(s, "gov2", "Ship aground", "gov2 says " + WIRE_BODY)
        s.flush()
        sig = dedupe.signature(f"{art.title}\n{art.body}")
        keys = dedupe.band_keys(sig)
        bands = dedupe._stored_bands(s.connection(), keys, T0 - dedupe.WINDOW)
        read = [bands.in_window(k, 10**6) for k in keys]  # every stored copy is in the window
        assert any(read) and all(len(rows) <= 2 for rows in read)
        assert max(len(rows) for rows in read) == 2  # 4 stored copies share a band
        for key, rows in zip(keys, read, strict=True):  # the newest holders of the key
            holders = s.scalars(select(StoryBand.article_id).where(StoryBand.band == key))
            assert rows == sorted(holders, reverse=True)[:2]
        story, created = attach_article(s, art, now=T0)
        assert story.id == first.id and not created and story.article_count == 5


def test_band_rows_of_a_story_gone_meanwhile_are_dropped(  # type: ignore[no-untyped-def]
    sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process deletes a story between the band read and the first-seen read: its
    # rows must not become candidates, and the other story's rows stay.
    with sessions.begin() as s:
        kept, _ = attach_article(s, _add(s, "wire", "Ship runs aground", WIRE_BODY), now=T0)
        gone, _ = attach_article(s, _add(s, "gov", "Budget passes", OTHER_BODY), now=T0)
        keys = [
            k
            for body in (WIRE_BODY, OTHER_BODY)
            for k in s.scalars(select(StoryBand.band).join(Article).where(Article.body == body))
        ]
        first_seen = dedupe._FIRST_SEEN
        monkeypatch.setattr(dedupe, "_FIRST_SEEN", first_seen.where(Story.id != gone.id))
        bands = dedupe._stored_bands(s.connection(), keys, T0 - dedupe.WINDOW)
        read = {a for k in keys for a in bands.in_window(k, 10**6)}
        assert read == {kept.lead_article_id}
        assert set(bands.story_of.values()) == {kept.id} and set(bands.seen) == {kept.id}


def test_band_candidates_are_read_from_the_index_alone(tmp_path: Path) -> None:
    from crawler.db import make_engine
    from scheduler.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    upgrade(engine)
    try:
        with engine.connect() as conn:
            sql = dedupe._newest_band_rows("sqlite", 3)
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (1, 2, 3)).all()
    finally:
        engine.dispose()
    steps = [row[-1] for row in plan]
    walks = [s for s in steps if "USING COVERING INDEX ix_story_bands_band_article_story" in s]
    assert len(walks) == 3, steps  # one walk per key, newest first from the index itself
    assert not any("TEMP B-TREE" in s for s in steps), steps


def test_a_closer_candidate_with_another_title_does_not_hide_a_matching_one(sessions) -> None:  # type: ignore[no-untyped-def]
    # Short items share a boilerplate summary: the closest stored one has another title, so
    # the next closest (its own story) must still be checked and joined.
    words = (
        "Officials said the agreement covers patent licensing, joint research and supply "
        "chain security for semiconductors, with working groups meeting every quarter and "
        "a first review due next spring in Taipei, according to a statement released on "
        "Monday by the ministry"
    )
    with sessions.begin() as s:
        other, _ = attach_article(s, _add(s, "wire", "Council passes city budget", words), now=T0)
        edited = words.replace("Monday", "Tuesday")
        ship, _ = attach_article(s, _add(s, "gov", "Ministry signs chip pacts", edited), now=T0)
        assert other.id != ship.id  # titles disagree: two stories
        new = _add(s, "site-a", "Ministry signs chip pacts | Site A", words)
        s.flush()
        sig = dedupe.signature(f"{new.title}\n{new.body}")
        stored = [s.get(Article, a.lead_article_id) for a in (other, ship)]
        scores = [dedupe.jaccard(sig, dedupe.from_bytes(a.minhash)) for a in stored]
        assert scores[0] > scores[1] >= dedupe.THRESHOLD  # the closer one is the other story
        story, created = attach_article(s, new, now=T0 + timedelta(minutes=5))
        assert not created and story.id == ship.id


def test_band_queries_come_in_few_shapes() -> None:
    # A compiled statement stays in SQLite's statement cache: a daemon must not collect one
    # per batch size (a 400-key statement holds about half a megabyte).
    shapes: set[int] = set()
    for n in range(1, 2_000):
        sizes = dedupe._union_sizes(n)
        assert sum(sizes) == n and sizes == sorted(sizes, reverse=True)
        shapes.update(sizes)
    assert len(shapes) <= 7 and max(shapes) == dedupe._UNION_TERMS


def test_unrelated_articles_stay_apart(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        ids = {
            attach_article(s, _add(s, "wire", "Ship aground", WIRE_BODY), now=T0)[0].id,
            attach_article(s, _add(s, "wire", "Budget passes", OTHER_BODY), now=T0)[0].id,
        }
        assert len(ids) == 2


def _gedikli_texts(corpus_dir: Path) -> dict[str, dict[str, str]]:
    base = corpus_dir / "dedupe" / "gedikli-business-energy-news-story-chains"
    path = base / "gedikli-business_energy_news_dataset-2021-06-29-article_texts.csv"
    if not path.is_file():
        pytest.skip("Gedikli texts not in the corpus")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return {row["url"]: row for row in csv.DictReader(f)}


def test_real_articles_cross_edition_copy_merges_others_apart(
    sessions,  # type: ignore[no-untyped-def]
    corpus_dir: Path,
) -> None:
    arts = _gedikli_texts(corpus_dir)
    pick = [
        "pv-magazine-australia.com/2021/06/21/nationally-sanctioned",
        "pv-magazine.com/2021/06/21/australias-23-gw",  # the same text, global edition
        "reuters.com/article/us-saudi-aramco-pipeline-eig",
        "offshore-energy.biz/wartsila-global-energy-ventures",
        "renewableenergymagazine.com/ocean_energy/mocean-energy-blue-x-arrives",
    ]
    rows = [next(a for u, a in arts.items() if key in u) for key in pick]
    with sessions.begin() as s:
        stories = [
            attach_article(s, _add(s, src, r["title"], r["text"]), now=T0)[0].id
            for src, r in zip(("site-a", "site-b", "wire", "wire", "wire"), rows, strict=True)
        ]
    assert stories[0] == stories[1]
    assert len(set(stories)) == 4


def _chinese_texts(corpus_dir: Path) -> list[str]:
    folder = corpus_dir / "articles" / "immortal-autumn-chinese-web-content-extraction" / "cleaned"
    if not folder.is_dir():
        pytest.skip("Chinese articles not in the corpus")
    texts = [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))]
    return [t for t in texts if 400 <= text_size(t) <= 1500][:3]


def test_chinese_syndicated_copies_merge(sessions, corpus_dir: Path) -> None:  # type: ignore[no-untyped-def]
    first, second, third = _chinese_texts(corpus_dir)
    with sessions.begin() as s:
        orig, _ = attach_article(s, _add(s, "wire", "新聞一", first), now=T0)
        copy = (
            "來源：某某日報　記者王小明／綜合報導\n"
            + first
            + "\n（責任編輯：李四）更多新聞請下載本報APP"
        )
        got, created = attach_article(s, _add(s, "site-a", "轉載：新聞一", copy), now=T0)
        assert not created and got.id == orig.id
        # the same text with spaces between characters (some sites do that) still joins
        spaced = " ".join(first[: len(first) // 2]) + first[len(first) // 2 :]
        assert attach_article(s, _add(s, "site-b", "新聞一", spaced), now=T0)[0].id == orig.id
        other = {
            attach_article(s, _add(s, "wire", "新聞", t), now=T0)[0].id for t in (second, third)
        }
        assert orig.id not in other and len(other) == 2


def test_title_only_items_do_not_false_merge(sessions) -> None:  # type: ignore[no-untyped-def]
    titles = [
        ("wire", "Markets wrap"),
        ("site-a", "Markets wrap"),  # identical but too short to mean the same story
        ("site-a", "Stocks rise on Fed rate cut hopes as oil slips"),
        ("site-b", "Stocks fall on Fed rate cut fears as oil slips"),
    ]
    with sessions.begin() as s:
        arts = [_add(s, src, title, "") for src, title in titles]
        ids = [attach_article(s, a, now=T0)[0].id for a in arts]
        assert len(set(ids)) == 4
        assert all(a.minhash is None for a in arts)
        assert _count(s, StoryBand) == 0
        # an identical, specific headline (8+ words) from another feed is the same story
        same = _add(s, "gov", "Stocks rise on Fed rate cut hopes as oil slips", "")
        assert attach_article(s, same, now=T0)[0].id == ids[2]


# Feed items as syndicated by real outlets: a headline and a 15-30 word summary.
ITEM_TITLE = "Taiwan signs six MOUs with US firms, incl. licensing pacts"
ITEM_SUMMARY = (
    "The economics ministry on Monday signed six memoranda of understanding with American "
    "companies, including two licensing agreements."
)
BOILERPLATE = (
    "Read the full story on Example Trade News, your daily source for trade policy, tariffs, "
    "customs rulings and intellectual property news from around the world."
)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("UPDATE: " + ITEM_TITLE, ITEM_SUMMARY),
        ("Report: " + ITEM_TITLE, ITEM_SUMMARY),
        (ITEM_TITLE + " | Focus Taiwan", ITEM_SUMMARY),
        (ITEM_TITLE, ITEM_SUMMARY + " (Reuters)"),
    ],
)
def test_short_syndicated_copies_are_one_story(sessions, title: str, summary: str) -> None:  # type: ignore[no-untyped-def]
    assert MIN_SIZE <= text_size(f"{ITEM_TITLE} {ITEM_SUMMARY}") < 30  # skipped before
    with sessions.begin() as s:
        first, _ = attach_article(s, _add(s, "wire", ITEM_TITLE, ITEM_SUMMARY), now=T0)
        copy = _add(s, "site-a", title, summary)
        story, created = attach_article(s, copy, now=T0 + timedelta(minutes=5))
        assert not created and story.id == first.id and story.article_count == 2


def test_short_items_sharing_a_boilerplate_summary_stay_apart(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        a = _add(s, "site-a", "Court upholds tariff ruling on steel", BOILERPLATE)
        b = _add(s, "site-a", "Customs agency updates origin rules", BOILERPLATE)
        c = _add(s, "site-a", "Patent office cuts fees for startups", BOILERPLATE)
        ids = {attach_article(s, x, now=T0)[0].id for x in (a, b, c)}
        assert len(ids) == 3


def test_short_copy_with_a_different_headline_stays_apart(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        first, _ = attach_article(s, _add(s, "wire", ITEM_TITLE, ITEM_SUMMARY), now=T0)
        other = _add(s, "site-a", "Ministry hails trade week results", ITEM_SUMMARY)
        assert attach_article(s, other, now=T0)[0].id != first.id


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Taiwan patent licensing talks, part 1", "Taiwan patent licensing talks, part 2"),
        ("Taiwan exports rose 5% in May", "Taiwan exports rose 7% in June"),
    ],
)
def test_short_items_whose_titles_differ_by_a_number_stay_apart(  # type: ignore[no-untyped-def]
    sessions, first: str, second: str
) -> None:
    with sessions.begin() as s:
        a = attach_article(s, _add(s, "wire", first, ITEM_SUMMARY), now=T0)[0]
        b = _add(s, "wire", second, ITEM_SUMMARY)
        assert attach_article(s, b, now=T0)[0].id != a.id
        # a copy that only gained a number is still the same story
        c = _add(s, "site-a", "UPDATE 2: " + first, ITEM_SUMMARY)
        assert attach_article(s, c, now=T0)[0].id == a.id


def test_headlines_below_the_short_floor_never_match_by_similarity(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        a = attach_article(s, _add(s, "wire", "Ship aground near breakwater", "Port closed."))[0]
        b = _add(s, "site-a", "UPDATE: Ship aground near breakwater", "Port closed.")
        assert text_size("UPDATE: Ship aground near breakwater Port closed.") < MIN_SIZE
        assert attach_article(s, b, now=T0)[0].id != a.id


def test_short_copies_outside_the_story_window_stay_apart(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        old, _ = attach_article(s, _add(s, "wire", ITEM_TITLE, ITEM_SUMMARY), now=T0)
        late = _add(s, "site-a", "UPDATE: " + ITEM_TITLE, ITEM_SUMMARY)
        assert attach_article(s, late, now=T0 + timedelta(days=15))[0].id != old.id


def test_repair_recent_merges_short_copies(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        a, _ = attach_article(s, _add(s, "wire", ITEM_TITLE, ITEM_SUMMARY), now=T0)
        b_art = _add(s, "site-a", "Report: " + ITEM_TITLE, ITEM_SUMMARY)
        # a racing process that bypassed attach_article's lookup: its own story
        b = Story(lead_article_id=b_art.id, title=b_art.title, first_seen_at=T0, updated_at=T0)
        s.add(b)
        s.flush()
        b_art.story_id = b.id
        b_art.minhash = dedupe.to_bytes(dedupe.signature(f"{b_art.title}\n{ITEM_SUMMARY}"))
        s.flush()
        assert repair_recent(s, T0 - timedelta(hours=1), now=T0, on_merge=move_alerts) == [
            (a.id, b.id)
        ]


def test_official_source_becomes_lead_but_not_over_another_official(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        story, _ = attach_article(s, _add(s, "wire", "Wire: ship aground", WIRE_BODY), now=T0)
        gov = _add(s, "gov", "Port authority statement on grounding", "Statement. " + WIRE_BODY)
        got, _ = attach_article(s, gov, official=True, now=T0)
        assert got.id == story.id
        assert got.lead_article_id == gov.id
        assert got.title == "Port authority statement on grounding"
        gov2 = _add(s, "gov2", "Ministry note on grounding", "Note. " + WIRE_BODY)
        got, _ = attach_article(s, gov2, official=True, now=T0)
        assert got.lead_article_id == gov.id and got.article_count == 3
        # a later non-official copy never takes the lead
        late = _add(s, "site-a", "Ship aground", WIRE_BODY + " Update.")
        assert attach_article(s, late, now=T0)[0].lead_article_id == gov.id


def test_first_article_from_an_official_source_keeps_the_lead(sessions) -> None:  # type: ignore[no-untyped-def]
    official = {"gov", "gov2"}
    with sessions.begin() as s:
        gov = _add(s, "gov", "Council: budget approved", OTHER_BODY)
        story, _ = attach_article(s, gov, official_sources=official, now=T0)
        gov2 = _add(s, "gov2", "Ministry: budget", "Ministry note. " + OTHER_BODY)
        got, _ = attach_article(s, gov2, official_sources=official, now=T0)
        assert got.id == story.id and got.lead_article_id == gov.id


def test_story_window_is_respected(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        old, _ = attach_article(s, _add(s, "wire", "Ship aground", WIRE_BODY), now=T0)
        late = T0 + timedelta(days=15)
        new, created = attach_article(s, _add(s, "site-a", "Ship aground", WIRE_BODY), now=late)
        assert created and new.id != old.id
        # still within the window of the newer story
        again, created = attach_article(
            s, _add(s, "site-b", "Ship aground", WIRE_BODY), now=late + timedelta(days=13)
        )
        assert not created and again.id == new.id


def test_merge_stories_moves_articles_bands_and_alert_history(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        a = _add(s, "wire", "Ship aground", WIRE_BODY)
        b = _add(s, "site-a", "Budget passes", OTHER_BODY)
        keep, _ = attach_article(s, a, now=T0)
        drop, _ = attach_article(s, b, now=T0 - timedelta(hours=1))
        for story, art, watchlist in ((keep, a, "ports"), (drop, b, "ports"), (drop, b, "city")):
            m = Match(story_id=story.id, article_id=art.id, watchlist=watchlist)
            s.add(m)
            s.flush()
            s.add(Delivery(match_id=m.id, story_id=story.id, watchlist=watchlist, channel="mail"))
        s.flush()
        keep_id, drop_id = keep.id, drop.id
        merged = merge_stories(
            s, keep_id, drop_id, now=T0 + timedelta(hours=1), on_merge=move_alerts
        )
        assert merged.article_count == 2
        assert merged.lead_article_id == a.id
        assert merged.first_seen_at == T0 - timedelta(hours=1)
    with sessions() as s:
        assert set(s.scalars(select(Article.story_id))) == {keep_id}
        assert set(s.scalars(select(StoryBand.story_id))) == {keep_id}
        assert set(s.scalars(select(Match.watchlist).where(Match.story_id == keep_id))) == {
            "ports",
            "city",
        }
        # the "ports" alert of the dropped story stays as history on an empty shell
        shell = s.get(Story, drop_id)
        assert shell is not None and shell.article_count == 0 and shell.lead_article_id is None
        assert _count(s, Delivery) == 3
    with sessions.begin() as s:
        c = _add(s, "site-b", "Budget passes", OTHER_BODY + " Updated.")
        assert attach_article(s, c, now=T0 + timedelta(hours=2))[0].id == keep_id


def test_merge_stories_deletes_a_dropped_story_without_history(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        keep, _ = attach_article(s, _add(s, "wire", "Ship", WIRE_BODY), now=T0)
        drop, _ = attach_article(s, _add(s, "wire", "Budget", OTHER_BODY), now=T0)
        keep_id, drop_id = keep.id, drop.id
        merge_stories(s, keep_id, drop_id, on_merge=move_alerts)
    with sessions() as s:
        assert s.get(Story, drop_id) is None
        assert s.get(Story, keep_id).article_count == 2  # type: ignore[union-attr]


def test_repair_recent_merges_stories_split_by_a_race(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        first, _ = attach_article(s, _add(s, "wire", "Ship aground", WIRE_BODY), now=T0)
        # Make the second copy miss the first story (as a concurrent insert would), then
        # move its story back next to the first.
        twin, created = attach_article(
            s,
            _add(s, "site-a", "Ship aground (update)", WIRE_BODY + " Updated."),
            now=T0 + timedelta(days=30),
        )
        exact, _ = attach_article(
            s, _add(s, "site-b", "Ship aground", WIRE_BODY), now=T0 + timedelta(days=60)
        )
        assert created and len({first.id, twin.id, exact.id}) == 3
        twin.first_seen_at = T0 + timedelta(seconds=1)
        exact.first_seen_at = T0 + timedelta(seconds=2)
        unrelated, _ = attach_article(s, _add(s, "wire", "Budget", OTHER_BODY), now=T0)
        first_id = first.id
        merges = repair_recent(s, T0 - timedelta(days=1), on_merge=move_alerts)
        assert sorted(merges) == sorted([(first_id, twin.id), (first_id, exact.id)])
    with sessions() as s:
        assert s.get(Story, first_id).article_count == 3  # type: ignore[union-attr]
        assert s.get(Story, unrelated.id) is not None
        assert _count(s, Story) == 2
    with sessions.begin() as s:
        assert repair_recent(s, T0 - timedelta(days=1), on_merge=move_alerts) == []


@pytest.mark.postgres
def test_concurrent_copies_end_as_one_story(db) -> None:  # type: ignore[no-untyped-def]
    engine, factory = db
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE; the race needs PostgreSQL")
    with factory.begin() as s:
        for sid in SOURCES:
            s.add(Source(id=sid, type="rss", url=f"https://{sid}.test/f", config_url="x"))
    barrier = threading.Barrier(2, timeout=20)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(source: str) -> None:
        try:
            with factory.begin() as s:
                art = _add(s, source, "Ship aground", f"{source} says: " + WIRE_BODY)
                barrier.wait()  # both rows inserted, neither committed
                story, _ = attach_article(s, art, now=T0)
                results.append(story.id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(src,)) for src in ("site-a", "site-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(results) == 2 and results[0] == results[1]
    with factory() as s:
        assert _count(s, Story) == 1
        assert s.get(Story, results[0]).article_count == 2  # type: ignore[union-attr]
