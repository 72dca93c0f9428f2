"""Config loading: every mistake is named by file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scheduler.config import load_config
from scheduler.yamlsource import ConfigError

SOURCES = """\
sources:
  - id: ustr
    type: rss
    url: https://ustr.gov/rss.xml
    interval: 30m
    tags: [official]
  - id: tipo
    type: html
    url: https://www.tipo.gov.tw/en/lp-282-2.html
    selectors:
      list: 'a[href*="cp-282-"]'
"""

CHANNELS = """\
channels:
  slack:
    url: "json://127.0.0.1:9/hook"
"""

WATCHLIST = """\
name: ip
groups:
  taiwan: [Taiwan, 台灣]
  mou: [MOU]
match: taiwan AND mou
notify:
  - channel: console
  - channel: slack
    mode: digest
    schedule: "0 8 * * 1-5"
"""


def problems(root: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(root, env=env or {})
    return [str(p) for p in info.value.problems]


def test_bundled_config_is_valid() -> None:
    from tests.conftest import REPO

    cfg = load_config(REPO / "config", env={})
    assert len(cfg.sources.sources) >= 20
    assert any(w.name == "taiwan-us-ip" for w in cfg.watchlists)
    assert "console" in cfg.channels
    enabled = [s for s in cfg.sources.sources if s.enabled]
    assert enabled and len(enabled) < len(cfg.sources.sources)


def test_valid_config_loads(write_config) -> None:
    root = write_config(
        {"sources.yaml": SOURCES, "channels.yaml": CHANNELS, "watchlists/ip.yaml": WATCHLIST}
    )
    cfg = load_config(root, env={})
    assert [s.id for s in cfg.sources.sources] == ["ustr", "tipo"]
    assert cfg.sources.sources[0].interval.total_seconds() == 1800
    wl = cfg.watchlist("ip")
    assert wl.notify[1].mode == "digest"
    assert set(cfg.channels) == {"console", "slack"}


def test_unknown_channel_names_file_line_and_field(write_config) -> None:
    root = write_config(
        {
            "sources.yaml": SOURCES,
            "channels.yaml": CHANNELS,
            "watchlists/ip.yaml": WATCHLIST.replace("channel: slack", "channel: slak"),
        }
    )
    [msg] = problems(root)
    assert msg.startswith(f"{root}/watchlists/ip.yaml:8: notify[1].channel: unknown channel 'slak'")
    assert "did you mean 'slack'" in msg


def test_watchlist_name_defaults_to_file_stem(write_config) -> None:
    root = write_config({"watchlists/trade-war.yaml": "groups: {t: [tariff]}\nmatch: t\n"})
    assert load_config(root, env={}).watchlists[0].name == "trade-war"


def test_typo_in_field_name(write_config) -> None:
    root = write_config(
        {"sources.yaml": SOURCES.replace("    interval: 30m", "    intervall: 30m")}
    )
    [msg] = problems(root)
    assert (
        msg
        == f"{root}/sources.yaml:5: sources[0].intervall: unknown field; did you mean 'interval'?"
    )


def test_bad_values_are_each_reported(write_config) -> None:
    bad = (
        SOURCES.replace("interval: 30m", "interval: soon")
        .replace("type: html", "type: htm")
        .replace("https://ustr.gov/rss.xml", "ftp://ustr.gov")
    )
    msgs = problems(write_config({"sources.yaml": bad}))
    assert any(m.startswith(f"{Path(m.split(':')[0])}:4: sources[0].url") for m in msgs), msgs
    assert any(":5: sources[0].interval: invalid duration 'soon'" in m for m in msgs), msgs
    assert any(":8: sources[1]" in m and "unknown type 'htm'" in m for m in msgs), msgs


def test_missing_required_field(write_config) -> None:
    msgs = problems(write_config({"sources.yaml": SOURCES.replace("    type: rss\n", "")}))
    assert any(":2: sources[0]" in m and "'type' missing" in m for m in msgs), msgs


def test_duplicate_source_id(write_config) -> None:
    msgs = problems(write_config({"sources.yaml": SOURCES.replace("id: tipo", "id: ustr")}))
    assert msgs == [f"{msgs[0].split(':')[0]}:7: sources[1].id: duplicate source id 'ustr'"]


def test_duplicate_yaml_key(write_config) -> None:
    text = SOURCES.replace("    interval: 30m\n", "    interval: 30m\n    interval: 1h\n")
    [msg] = problems(write_config({"sources.yaml": text}))
    assert msg.endswith(":6: sources[0].interval: duplicate key")


def test_yaml_syntax_error_has_line(write_config) -> None:
    [msg] = problems(write_config({"sources.yaml": "sources:\n  - id: a\n   type: [rss\n"}))
    assert "sources.yaml:" in msg and "YAML syntax error" in msg
    assert msg.split(":")[1].isdigit()


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("sources:\n\t- id: a\n", 2, "'\\t' that cannot start any token"),
        ("sources:\n  - id: a\n    type: @rss\n", 3, "'@' that cannot start any token"),
        ("sources:\n  - *first\n", 2, "undefined alias 'first'"),
        ("sources: [{id: a, type: rss}\nother: 1\n", 2, "expected ',' or ']', but got"),
    ],
)
def test_yaml_syntax_errors_say_which_character_alias_or_bracket(
    write_config, text: str, line: int, words: str
) -> None:
    # libyaml parses a valid file; a rejected one is worded by the pure-Python parser
    [msg] = problems(write_config({"sources.yaml": text}))
    assert msg.split(":")[1] == str(line)
    assert "YAML syntax error" in msg and words in msg


def test_config_files_are_parsed_by_libyaml_where_pyyaml_has_it() -> None:
    import yaml

    from scheduler import yamlsource

    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML built without libyaml")
    assert yamlsource._FAST_LOADER is yaml.CSafeLoader


def test_bad_regex_link_pattern(write_config) -> None:
    text = SOURCES + "    link_pattern: 'cp-(282'\n"
    [msg] = problems(write_config({"sources.yaml": text}))
    assert ":12: sources[1].link_pattern: invalid regular expression" in msg


def test_bad_cron_and_missing_schedule(write_config) -> None:
    wl = WATCHLIST.replace('schedule: "0 8 * * 1-5"', 'schedule: "0 25 * * *"')
    msgs = problems(write_config({"channels.yaml": CHANNELS, "watchlists/ip.yaml": wl}))
    assert any(":10: notify[1].schedule: invalid cron schedule" in m for m in msgs), msgs
    wl = WATCHLIST.replace('    schedule: "0 8 * * 1-5"\n', "")
    msgs = problems(write_config({"channels.yaml": CHANNELS, "watchlists/ip.yaml": wl}))
    assert any(":8: notify[1]: a digest route needs a cron 'schedule'" in m for m in msgs), msgs


def test_expression_error_points_at_column(write_config) -> None:
    wl = WATCHLIST.replace("match: taiwan AND mou", "match: taiwan AND mouu")
    [msg] = problems(write_config({"channels.yaml": CHANNELS, "watchlists/ip.yaml": wl}))
    # "match: taiwan AND mouu": the bad token starts at column 19.
    assert msg.startswith(f"{msg.split(':')[0]}:5:19: match:"), msg
    assert "mouu" in msg


def test_expression_error_in_block_scalar(write_config) -> None:
    wl = WATCHLIST.replace("match: taiwan AND mou", "match: |\n  taiwan\n  AND (mou OR\n  taiwan")
    [msg] = problems(write_config({"channels.yaml": CHANNELS, "watchlists/ip.yaml": wl}))
    assert ":5:" in msg or ":6:" in msg or ":7:" in msg or ":8:" in msg, msg


def test_unknown_source_filter(write_config) -> None:
    wl = WATCHLIST + "sources: [ustr, oficial]\n"
    [msg] = problems(
        write_config({"sources.yaml": SOURCES, "channels.yaml": CHANNELS, "watchlists/ip.yaml": wl})
    )
    assert ":11: sources[1]: unknown source or tag 'oficial'; did you mean 'official'?" in msg


def test_env_interpolation_and_missing_variable(write_config) -> None:
    channels = 'channels:\n  hook:\n    url: "json://${HOOK_HOST}:${HOOK_PORT:-8080}/x"\n'
    root = write_config({"channels.yaml": channels})
    cfg = load_config(root, env={"HOOK_HOST": "127.0.0.1"})
    assert cfg.channels["hook"].url == "json://127.0.0.1:8080/x"
    [msg] = problems(root, env={})
    assert msg.endswith(":3: channels.hook.url: environment variable HOOK_HOST is not set")


def test_secrets_are_not_echoed(write_config) -> None:
    channels = 'channels:\n  mail:\n    url: "${MAIL_URL}"\n    rate: {max: 0}\n'
    secret = "mailtos://bob:hunter2-secret@smtp.example.com"
    msgs = problems(write_config({"channels.yaml": channels}), env={"MAIL_URL": secret})
    assert msgs and all("hunter2" not in m for m in msgs)
    bad_url = "bogus://hunter2-secret"
    msgs = problems(write_config({"channels.yaml": channels}), env={"MAIL_URL": bad_url})
    assert all("hunter2" not in m for m in msgs), msgs


def test_unknown_admin_channel(write_config) -> None:
    [msg] = problems(write_config({"wirewatch.yaml": "alerts:\n  admin_channel: pager\n"}))
    assert msg.endswith(":2: alerts.admin_channel: unknown channel 'pager' (known: console)")


def test_every_problem_at_once(write_config) -> None:
    root = write_config(
        {
            "sources.yaml": SOURCES.replace("interval: 30m", "interval: -"),
            "wirewatch.yaml": "log:\n  level: LOUD\n",
            "watchlists/ip.yaml": WATCHLIST.replace("channel: slack", "channel: nope"),
        }
    )
    files = {Path(m.split(":")[0]).name for m in problems(root)}
    assert files == {"sources.yaml", "wirewatch.yaml", "ip.yaml"}


def test_database_url_precedence(write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_config({"wirewatch.yaml": "data_dir: ./state\n"})
    monkeypatch.delenv("WIREWATCH_DATABASE_URL", raising=False)
    cfg = load_config(root, env={})
    assert cfg.database_url == f"sqlite:///{(root / 'state' / 'wirewatch.db').resolve()}"
    monkeypatch.setenv("WIREWATCH_DATABASE_URL", "postgresql://x@h/db")
    assert cfg.database_url == "postgresql://x@h/db"


def test_missing_directory(tmp_path: Path) -> None:
    [msg] = problems(tmp_path / "nope")
    assert msg == (
        f"config directory {tmp_path / 'nope'} (from --config) not found; "
        f"create it with `wirewatch init {tmp_path / 'nope'}`"
    )


def test_non_mapping_top_level(write_config) -> None:
    [msg] = problems(write_config({"sources.yaml": textwrap.dedent("- a\n- b\n")}))
    assert msg.endswith("sources.yaml:1: expected a mapping at the top, got list")


def test_group_named_like_a_keyword(write_config) -> None:
    wl = "groups:\n  near: [nearby]\n  tw: [Taiwan]\nmatch: tw\n"
    [msg] = problems(write_config({"watchlists/k.yaml": wl}))
    assert msg.endswith(":2: groups: group name 'near' is a keyword of the match language")


def test_allow_private_entries_are_checked(write_config) -> None:
    text = "crawl:\n  allow_private:\n    - intranet.example.org\n    - 10.20.0.0/16\n"
    text += "    - '*.corp'\n"
    [msg] = problems(write_config({"wirewatch.yaml": text}))
    assert ":5: crawl.allow_private[2]: '*.corp' is neither an IP address" in msg, msg
    root = write_config({"wirewatch.yaml": text.replace("    - '*.corp'\n", "")})
    assert load_config(root).settings.crawl.allow_private == [
        "intranet.example.org",
        "10.20.0.0/16",
    ]


TWO_CHANNELS = """\
channels:
  slack:
    url: "json://127.0.0.1:9/hook"
  email:
    url: {email}
    format: {fmt}
"""
ROUTES = """\
name: ip
groups: {taiwan: [Taiwan]}
match: taiwan
notify: [{channel: slack}, {channel: email}, {channel: console}]
"""


@pytest.mark.parametrize(
    ("url", "fmt", "error"),
    [
        (
            '"mailto://${SMTP_HOST}"',
            "html",
            "channels.yaml:5: channels.email.url: environment variable SMTP_HOST is not set",
        ),
        (
            '"nosuch://x"',
            "html",
            "channels.yaml:5: channels.email.url: apprise cannot use this URL (scheme 'nosuch')",
        ),
        ('"mailto://localhost"', "rtf", "channels.yaml:6: channels.email.format: Input should"),
    ],
)
def test_one_bad_channel_is_the_only_error(write_config, url: str, fmt: str, error: str) -> None:
    """Routes to the other channels, and to the broken one, are not reported as unknown."""
    root = write_config(
        {
            "channels.yaml": TWO_CHANNELS.format(email=url, fmt=fmt),
            "watchlists/ip.yaml": ROUTES,
            "wirewatch.yaml": "alerts: {admin_channel: email}\n",
        }
    )
    [msg] = problems(root)
    assert error in msg


def test_one_bad_source_is_the_only_error(write_config) -> None:
    bad = SOURCES.replace("interval: 30m", "interval: 30 minutes")
    wl = WATCHLIST.replace(
        "match: taiwan AND mou", "match: taiwan AND mou\nsources: [official, tipo]"
    )
    root = write_config({"sources.yaml": bad, "channels.yaml": CHANNELS, "watchlists/ip.yaml": wl})
    [msg] = problems(root)
    assert "sources.yaml:5: sources[0].interval: invalid duration '30 minutes'" in msg
    # a name that no source defines is still caught
    root = write_config({"sources.yaml": bad, "watchlists/ip.yaml": wl.replace("tipo]", "tpo]")})
    assert any("unknown source or tag 'tpo'; did you mean 'tipo'?" in m for m in problems(root))
