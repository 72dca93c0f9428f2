from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.urls import (
    TRACKING_PARAMS,
    canonical_url,
    decode_google_news,
    entry_link,
    is_google_news,
    is_tracking_param,
    unwrap_redirect,
)

OLD_GNEWS = (
    "https://news.google.com/rss/articles/CBMiLmh0dHBzOi8vd3d3LmJiYy5jb20vbmV3cy9hcnRpY2xlcy9jampq"
    "bnhkdjE4OG_SATJodHRwczovL3d3dy5iYmMuY29tL25ld3MvYXJ0aWNsZXMvY2pqam54ZHYxODhvLmFtcA?oc=5"
)
NEW_GNEWS = (
    "https://news.google.com/rss/articles/CBMiVkFVX3lxTE4zaGU2bTY2ZGkzdTRkSkJ0cFpsTGlDUjkxU2FBRURa"
    "TWU0c3QzVWZ1MHZZNkZ5Vzk1ZVBnTDFHY2R6ZmdCUkpUTUJsS1pqQTlCRzlzbHV3?oc=5"
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTP://WWW.Example.COM:80/a/?b=2&utm_source=x&a=1&fbclid=1#frag",
            "http://www.example.com/a/?a=1&b=2#frag",
        ),
        # A fragment may tell posts of one page apart; tracking in it is still noise.
        ("https://b.org/2017/06/26.html#a080605", "https://b.org/2017/06/26.html#a080605"),
        ("https://b.org/p#xtor=RSS-3208", "https://b.org/p"),
        ("https://b.org/p?utm_source=rss#utm_medium=feed&utm_campaign=x", "https://b.org/p"),
        ("https://b.org/p#", "https://b.org/p"),
        ("https://b.org/p#sec:~:text=tariff", "https://b.org/p#sec"),
        ("https://b.org/#!/news/12", "https://b.org/#!/news/12"),
        ("https://example.com:443/x?UTM_Medium=a", "https://example.com/x"),
        ("https://example.com/x?utm_%73ource=1&id=3", "https://example.com/x?id=3"),
        ("https://ex.com/p?ref=rss&id=5", "https://ex.com/p?id=5"),
        ("https://ex.com/p?ref=4711", "https://ex.com/p?ref=4711"),
        ("  https://ex.com/a\n/b  ", "https://ex.com/a/b"),
        ("http://ex.com:8080", "http://ex.com:8080/"),
        ("https://www.ex.com/news/index.html", "https://www.ex.com/news/index.html"),
        ("mailto:x@example.com", "mailto:x@example.com"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_unwrap_google_wrappers() -> None:
    assert (
        unwrap_redirect("https://www.google.com/url?rct=j&sa=t&url=https://ex.com/a%3Fb%3D1&ct=ga")
        == "https://ex.com/a?b=1"
    )
    assert unwrap_redirect("https://www.google.co.uk/url?q=https://ex.com/x") == "https://ex.com/x"
    assert (
        unwrap_redirect("https://l.facebook.com/l.php?u=https%3A%2F%2Fex.com%2F")
        == "https://ex.com/"
    )
    assert unwrap_redirect("https://www.google.com/url?q=javascript:alert(1)").startswith(
        "https://www.google.com/"
    )


def test_google_news_tokens() -> None:
    assert is_google_news(OLD_GNEWS) and is_google_news(NEW_GNEWS)
    assert not is_google_news("https://news.google.com/topstories")
    assert decode_google_news(OLD_GNEWS) == "https://www.bbc.com/news/articles/cjjjnxdv188o"
    assert unwrap_redirect(OLD_GNEWS) == "https://www.bbc.com/news/articles/cjjjnxdv188o"
    assert decode_google_news(NEW_GNEWS) is None
    assert unwrap_redirect(NEW_GNEWS) == NEW_GNEWS
    assert decode_google_news("https://news.google.com/rss/articles/!!!notbase64") is None


def test_entry_link_prefers_feedburner_origlink() -> None:
    entry = {
        "link": "http://feedproxy.google.com/~r/Example/~3/abc/story",
        "feedburner_origlink": "https://example.com/story",
    }
    assert entry_link(entry) == "https://example.com/story"
    assert entry_link({"link": OLD_GNEWS}) == "https://www.bbc.com/news/articles/cjjjnxdv188o"
    assert entry_link({"id": "https://ex.com/p/1", "guidislink": True}) == "https://ex.com/p/1"
    assert entry_link({"id": "urn:uuid:1"}) is None
    # An empty or blank link is no link: an http(s) guid stands in, permalink or not.
    assert entry_link({"link": " ", "id": "https://ex.com/p/2", "guidislink": False}) == (
        "https://ex.com/p/2"
    )
    assert entry_link({"link": "", "id": "posts/3"}) is None


_tracking_keys = st.sampled_from([*sorted(TRACKING_PARAMS), "utm_source", "UTM_CAMPAIGN", "utm_x"])
_plain = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=1, max_size=8)


@given(st.text())
def test_canonical_url_total_and_idempotent(s: str) -> None:
    once = canonical_url(s)
    assert canonical_url(once) == once


@given(
    host=st.from_regex(r"[a-z]{1,10}\.(com|org|de|tw)", fullmatch=True),
    path=st.lists(_plain, max_size=3),
    params=st.lists(st.tuples(st.one_of(_tracking_keys, _plain), _plain), max_size=6),
    fragment=st.text(max_size=5),
)
def test_tracking_params_never_survive(
    host: str, path: list[str], params: list[tuple[str, str]], fragment: str
) -> None:
    query = "&".join(f"{k}={v}" for k, v in params)
    url = f"https://{host}/{'/'.join(path)}?{query}#{fragment}"
    result = canonical_url(url)
    assert canonical_url(result) == result
    parts = urlsplit(result)
    for piece in (parts.query, parts.fragment):
        assert not any(is_tracking_param(k, v) for k, v in parse_qsl(piece))
    kept = {k for k, v in params if not is_tracking_param(k, v)}
    assert kept <= {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}


@given(st.text())
def test_unwrap_total(s: str) -> None:
    assert isinstance(unwrap_redirect(s), str)
    assert isinstance(is_google_news(s), bool)
