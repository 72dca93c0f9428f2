"""Hostile inputs: entity expansion, gzip bombs, huge and broken documents.

Memory is measured in a child process so the test process's own allocations do not count.
On Linux ``ru_maxrss`` survives ``fork``+``exec`` (the child starts with the parent's high
water mark), so the child reads its own ``VmHWM``, which a fresh address space resets; other
systems fall back to ``ru_maxrss``.
"""

from __future__ import annotations

import contextlib
import gzip
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from crawler.parse import FeedResult, parse_feed, parse_sitemap, sanitize_prolog
from tests.conftest import REPO, _corpus_dir

PEAK_RSS_LIMIT_MB = 150
TIMEOUT_S = 60

QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "'
    + "x" * 50_000
    + '">]>\n<rss version="2.0"><channel><title>t</title><item><link>http://e.com/1</link>'
    + "<description>"
    + "&a;" * 20_000
    + "</description></item></channel></rss>"
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + ']>\n<rss version="2.0"><channel><title>&lol9;</title><item><guid>g</guid>'
    "<title>&lol9;</title></item></channel></rss>"
)


def _peak_rss_mb(code: str, path: Path) -> float:
    script = textwrap.dedent(
        f"""
        import resource, sys
        from pathlib import Path
        from crawler.parse import parse_feed, parse_sitemap, FeedError
        arg = Path(sys.argv[1])
        body = arg.read_bytes() if arg.is_file() else b""
        {code}
        try:
            status = Path("/proc/self/status").read_text()
            print(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM:")))
        except (OSError, StopIteration):
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=REPO,
        check=True,
    )
    return int(proc.stdout.strip().splitlines()[-1]) / 1024  # Linux reports KiB


FEED_CODE = "parse_feed(body, url='http://e.com/f', source_id='t')"
SITEMAP_CODE = "r = parse_sitemap(body, url='http://e.com/s', source_id='t'); assert r.bozo"


@pytest.mark.parametrize("name", ["quadratic", "billion_laughs"])
def test_entity_expansion_bounded(tmp_path: Path, name: str) -> None:
    doc = QUADRATIC if name == "quadratic" else BILLION_LAUGHS
    path = tmp_path / f"{name}.xml"
    path.write_text(doc, encoding="utf-8")
    peak = _peak_rss_mb(FEED_CODE, path)
    print(f"{name}: {len(doc) / 1024:.0f} KiB input, peak RSS {peak:.0f} MB")
    assert peak < PEAK_RSS_LIMIT_MB


def test_corpus_entity_feeds_bounded(tmp_path: Path) -> None:
    entities = _corpus_dir() / "feeds" / "kurtmckee-feedparser" / "tests" / "entities"
    if not entities.is_dir():
        pytest.skip("corpus not found")
    code = textwrap.dedent(
        """
        for p in sorted(arg.glob('*.xml')):
            parse_feed(p.read_bytes(), url='http://e.com/f', source_id='t')
        """
    ).replace("\n", "\n        ")
    peak = _peak_rss_mb("pass" + code, entities)
    print(f"corpus entity feeds: peak RSS {peak:.0f} MB")
    assert peak < PEAK_RSS_LIMIT_MB


def test_gzip_bomb_sitemap_bounded(tmp_path: Path) -> None:
    # ~1 GiB of zeros compresses to ~1 MB; we must stop at the 50 MiB cap.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 24)
    bomb = b"".join(compressor.compress(chunk) for _ in range(64)) + compressor.flush()
    path = tmp_path / "bomb.xml.gz"
    path.write_bytes(bomb)
    peak = _peak_rss_mb(SITEMAP_CODE, path)
    print(f"gzip bomb: {len(bomb) / 1024:.0f} KiB -> 1 GiB, peak RSS {peak:.0f} MB")
    assert peak < PEAK_RSS_LIMIT_MB


def test_gzip_bomb_feed_rejected() -> None:
    bomb = gzip.compress(b" " * (40 * 1024 * 1024))
    with pytest.raises(ValueError, match="inflates beyond"):
        parse_feed(bomb, url="http://e.com/f", source_id="t")


def test_quadratic_blowup_keeps_entries_and_reports() -> None:
    result = parse_feed(QUADRATIC.encode(), url="http://e.com/f", source_id="t")
    assert isinstance(result, FeedResult)
    assert result.bozo and "budget" in result.bozo
    assert len(result.entries[0].summary) < 2 * 1024 * 1024


def test_billion_laughs_not_expanded() -> None:
    text, _ = sanitize_prolog(BILLION_LAUGHS)
    assert "<!ENTITY" not in text and len(text) < len(BILLION_LAUGHS) + 100
    result = parse_feed(BILLION_LAUGHS.encode(), url="http://e.com/f", source_id="t")
    assert len(result.title) < 1000


def test_simple_internal_entity_still_expands() -> None:
    doc = (
        '<!DOCTYPE rss [\n  <!ENTITY id "tag:example.com,">\n]>\n<rss version="2.0"><channel>'
        "<item><guid isPermaLink='false'>&id;2006-05-04:/blog/</guid></item></channel></rss>"
    )
    result = parse_feed(doc.encode(), url="http://e.com/f", source_id="t")
    assert result.bozo is None
    assert result.entries[0].guid == "tag:example.com,2006-05-04:/blog/"


def test_external_entity_not_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>&xxe;</title><item><guid>g</guid></item>'
        "</channel></rss>"
    )
    assert "TOPSECRET" not in parse_feed(doc.encode(), url="http://e.com/f", source_id="t").title
    sitemap = doc.replace("<rss", "<urlset").replace("</rss>", "</urlset>")
    parse_sitemap(sitemap.encode(), url="http://e.com/s", source_id="t")


def test_oversized_and_garbage_inputs() -> None:
    huge = b'<rss version="2.0"><channel><item><link>http://e.com/1</link></item>' + b"x" * (
        17 * 1024 * 1024
    )
    result = parse_feed(huge, url="http://e.com/f", source_id="t")
    assert result.bozo and "truncated" in result.bozo
    for junk in (b"", b"\0\0\0\0", b"\xff\xfe\x00", b"<", b"<?xml?xml ??>", b"\x1f\x8b garbage"):
        with contextlib.suppress(ValueError):
            parse_feed(junk, url="http://e.com/f", source_id="t")
        parse_sitemap(junk, url="http://e.com/s", source_id="t")


def test_incomplete_cdata_terminates() -> None:
    doc = b'<rss version="2.0"><channel><item><guid>g</guid><description><![CDATA[abc'
    result = parse_feed(doc * 1000, url="http://e.com/f", source_id="t")
    assert result.bozo
