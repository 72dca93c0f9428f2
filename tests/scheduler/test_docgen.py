"""docs/config.md against the config models: generated tables current, every field present,
every example valid, the listing-page example run through the real extractor."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import BaseModel
from scrapy.http import HtmlResponse

from crawler.extract import extract_listing
from crawler.sources import ListingSource, SourcesFile
from crawler.spiders.listing import next_page_url
from scheduler import docgen
from scheduler.config import load_config
from tests.conftest import REPO

DOC = REPO / "docs" / "config.md"
TEXT = DOC.read_text(encoding="utf-8")
# What ${VAR} in the examples stands for when they are validated.
ENV = {
    "SMTP_USER": "wirewatch",
    "SMTP_PASSWORD": "app-password",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXX",
    "WIREWATCH_HTTP_TOKEN": "0123456789abcdef0123",
}


def marked_blocks(text: str, kind: str) -> dict[str, str]:
    """Fenced blocks preceded by ``<!-- KIND: NAME -->``, by name."""
    found = re.findall(rf"<!-- {kind}: (\S+) -->\n```\w*\n(.*?)```", text, re.S)
    return dict(found)


def region(file: str) -> str:
    m = re.search(rf"<!-- fields: {re.escape(file)} -->\n(.*?)<!-- end fields -->", TEXT, re.S)
    assert m, f"no fields region for {file}"
    return m.group(1)


def test_generated_tables_are_current() -> None:
    assert docgen.regenerate(TEXT) == TEXT, "docs/config.md is stale: python -m scheduler.docgen"
    assert docgen.main(["--check", str(DOC)]) == 0


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "config.md"
    stale.write_text(TEXT.replace("| `per_host` |", "| `per-host` |"), encoding="utf-8")
    assert docgen.main(["--check", str(stale)]) == 1
    assert docgen.main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == TEXT


def _schema_fields(model: type[BaseModel]) -> set[str]:
    """Every property name in a model's JSON schema, nested models included."""
    schema = model.model_json_schema()
    names = set(schema.get("properties", {}))
    for sub in schema.get("$defs", {}).values():
        names |= set(sub.get("properties", {}))
    return names


@pytest.mark.parametrize("file", [f for f, _ in docgen.FILES])
def test_every_schema_field_is_documented(file: str) -> None:
    """Independent of the generator's walk: the JSON schema names every field."""
    model = dict(docgen.FILES)[file]
    tables = region(file)
    missing = [n for n in sorted(_schema_fields(model)) if f"| `{n}` |" not in tables]
    assert not missing, f"{file}: fields missing from docs/config.md: {missing}"
    for row in re.findall(r"^\| `.*\|$", tables, re.M):
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(cells) == 5 and all(cells), row


def test_a_field_without_description_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = {k: dict(v) for k, v in docgen.TEXTS.items()}
    del texts["wirewatch.yaml"][("crawl", "per_host")]
    monkeypatch.setattr(docgen, "TEXTS", texts)
    with pytest.raises(docgen.DocgenError, match=r"per_host.*TEXTS"):
        docgen.regenerate(TEXT)


def _interpolate(value: str) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: ENV[m.group(1)], value)


def _literal(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is Literal else None


def _sections() -> list[docgen.Section]:
    return [s for f, root in docgen.FILES for s in docgen.sections(f, root)]


@pytest.mark.parametrize("section", _sections(), ids=lambda s: f"{s.file}:{s.path or 'top'}")
def test_each_field_example_is_valid(section: docgen.Section) -> None:
    """A table's examples, set together on its model (with the required fields), validate."""
    model = section.model
    base: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.is_required():
            fixed = _literal(info.annotation)
            example = docgen.field_texts(section, name, info)[1] if fixed is None else fixed
            base[name] = yaml.safe_load(_interpolate(str(example)))
    data = dict(base)
    for name, info in model.model_fields.items():
        if section.only is not None and name not in section.only:
            continue
        example = yaml.safe_load(_interpolate(docgen.field_texts(section, name, info)[1]))
        if _literal(info.annotation) is not None and example not in get_args(info.annotation):
            continue  # the shared ``type`` example names another source type
        data[name] = example
    model.model_validate(data)


def test_file_examples_form_a_valid_config(tmp_path: Path) -> None:
    examples = marked_blocks(TEXT, "example")
    assert set(examples) == {
        "wirewatch.yaml",
        "sources.yaml",
        "watchlists/taiwan-us-ip.yaml",
        "channels.yaml",
    }
    for name, body in examples.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    cfg = load_config(tmp_path, env=ENV)
    assert [s.type for s in cfg.sources.sources] == ["rss", "html", "sitemap"]
    assert cfg.watchlist("taiwan-us-ip").notify[1].mode == "digest"
    assert set(cfg.channels) == {"console", "email", "slack"}
    assert cfg.settings.http.listen == "127.0.0.1:9464"


LISTING = marked_blocks(TEXT, "listing")


@pytest.mark.parametrize("variant", ["css", "xpath"])
def test_listing_example_extracts_what_the_doc_says(variant: str) -> None:
    [source] = SourcesFile.model_validate(yaml.safe_load(LISTING[variant])).sources
    assert isinstance(source, ListingSource)
    page = LISTING["page"].encode("utf-8")
    sel = source.selectors
    listing = extract_listing(
        page,
        url=source.url,
        list_selector=sel.list,
        link_selector=sel.link,
        title_selector=sel.title,
        date_selector=sel.date,
        link_pattern=source.link_pattern,
        tz=ZoneInfo(source.timezone),
        dayfirst=source.dayfirst,
    )
    expected = yaml.safe_load(LISTING["result"])
    got = [{"url": e.url, "title": e.title, "published": e.published_at} for e in listing.entries]
    assert got == expected["items"]
    response = HtmlResponse(url=source.url, body=page, encoding="utf-8")
    assert next_page_url(response, sel.next_page) == expected["next_page"]


def test_title_defaults_to_link_text_when_link_selects_an_attribute() -> None:
    listing = extract_listing(
        LISTING["page"],
        url="https://www.example.gov.tw/news/list.html",
        list_selector="ul.news > li",
        link_selector="a::attr(href)",
        link_pattern=r"detail-\d+\.html$",
    )
    assert listing.entries[0].title == "經濟部與美商簽署合作備忘錄"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize(
    "page", ["README.md", "docs/config.md", "docs/watchlists.md", "docs/channels.md"]
)
def test_relative_links_resolve(page: str) -> None:
    source = REPO / page
    text = source.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, fragment = target.partition("#")
        dest = (source.parent / path).resolve() if path else source
        assert dest.exists(), f"{page}: broken link {target}"
        if fragment and dest.suffix == ".md":
            body = dest.read_text(encoding="utf-8")
            anchors = set(re.findall(r'<a id="([^"]+)"></a>', body))
            anchors |= {_slug(h) for h in re.findall(r"^#+ (.+)$", body, re.M)}
            assert fragment in anchors, f"{page}: no anchor #{fragment} in {path or page}"


def test_bundled_listener_as_the_readme_says() -> None:
    """README: the bundled wirewatch.yaml listens on 127.0.0.1:9464; the variable moves it."""
    assert "`http.listen: 127.0.0.1:9464` (`$WIREWATCH_HTTP_LISTEN` moves it" in (
        REPO / "README.md"
    ).read_text(encoding="utf-8").replace("\n", " ")
    assert load_config(REPO / "config", env={}).settings.http.listen == "127.0.0.1:9464"
    moved = load_config(REPO / "config", env={"WIREWATCH_HTTP_LISTEN": "127.0.0.1:9555"})
    assert moved.settings.http.listen == "127.0.0.1:9555"
