"""``wirewatch check`` and ``wirewatch db upgrade`` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def wirewatch(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None):
    """Run the installed CLI in a subprocess (exactly what a user runs)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    full_env.update({"COLUMNS": "200", **(env or {})})
    cmd = [sys.executable, "-c", "from scheduler.cli import main; main()", *args]
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60)


def test_check_bundled_config_prints_summary() -> None:
    res = wirewatch("check")
    assert res.returncode == 0, res.stderr
    for expected in ("Sources", "ustr-press", "Watchlists", "taiwan-us-ip", "Channels", "console"):
        assert expected in res.stdout
    assert "configuration in config is valid" in res.stdout


def test_check_broken_config_lists_every_problem(bundled_config: Path) -> None:
    wl = bundled_config / "watchlists" / "taiwan-us-ip.yaml"
    wl.write_text(wl.read_text().replace("channel: console", "channel: slak"))
    src = bundled_config / "sources.yaml"
    src.write_text(src.read_text().replace("interval: 30m", "interval: 30 minutes", 1))
    res = wirewatch("check", "--config", str(bundled_config))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert any(
        line.startswith(f"{wl}:") and "notify[0].channel: unknown channel 'slak'" in line
        for line in lines
    ), lines
    assert any(f"{src}:13: sources[0].interval: invalid duration" in line for line in lines), lines
    assert lines[-1] == "error: 2 problems in the configuration"


def test_config_from_environment(bundled_config: Path) -> None:
    res = wirewatch("check", env={"WIREWATCH_CONFIG": str(bundled_config)})
    assert res.returncode == 0
    assert str(bundled_config) in res.stdout


def test_secret_not_printed_by_check(bundled_config: Path) -> None:
    (bundled_config / "channels.yaml").write_text(
        'channels:\n  mail:\n    url: "mailtos://bob:${PW}@smtp.example.com?to=a@example.com"\n'
    )
    res = wirewatch("check", "--config", str(bundled_config), env={"PW": "s3cr3t-pw"})
    assert res.returncode == 0, res.stderr
    assert "mail" in res.stdout and "s3cr3t-pw" not in res.stdout + res.stderr


def test_db_upgrade_creates_sqlite_database(bundled_config: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    env = {"WIREWATCH_DATABASE_URL": f"sqlite:///{db}"}
    res = wirewatch("db", "upgrade", "--config", str(bundled_config), env=env)
    assert res.returncode == 0, res.stderr
    assert "(was empty)" in res.stdout and db.exists()
    res = wirewatch("db", "upgrade", "--config", str(bundled_config), env=env)
    assert res.returncode == 0 and "(was empty)" not in res.stdout


def test_unreachable_database_is_one_line(bundled_config: Path) -> None:
    env = {"WIREWATCH_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    res = wirewatch("db", "upgrade", "--config", str(bundled_config), env=env)
    assert res.returncode == 1
    assert res.stderr.startswith("error: database upgrade failed:")
    assert "Traceback" not in res.stderr


def test_secrets_in_channel_urls_are_not_printed(bundled_config: Path) -> None:
    (bundled_config / "channels.yaml").write_text(
        "channels:\n"
        "  hook:\n    url: json://hooks.example.org/PATHSECRET/x\n"
        "  auth:\n    url: json://bob:PWSECRET@hooks.example.org:8080/a?-token=QSECRET\n"
        "  slack:\n    url: slack://T1JJ3T3L2/A1BRTD4JD/TOKENSECRETiajkdnlazkcOXrIdevi7\n"
    )
    res = wirewatch("check", "--config", str(bundled_config))
    assert res.returncode == 0, res.stderr
    shown = res.stdout + res.stderr
    for secret in ("PATHSECRET", "PWSECRET", "QSECRET", "TOKENSECRET", "A1BRTD4JD"):
        assert secret not in shown
    assert "JSON (json://hooks.example.org/…)" in shown
    assert "json://bob:****@hooks.example.org:8080/…" in shown
    assert "Slack (slack://T...2/…)" in shown


def test_regex_re2_cannot_take_and_deep_nesting_are_named_by_file_and_line(
    bundled_config: Path,
) -> None:
    wl = bundled_config / "watchlists" / "look.yaml"
    wl.write_text(
        "groups:\n"
        "  law: [patent]\n"
        "  re:\n"
        "    - trademark\n"
        "    - regex: '(?<!US )patent law'\n"
        "match: law OR re\n"
    )
    res = wirewatch("check", "--config", str(bundled_config))
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"{wl}:5: groups.re[1].regex: invalid regular expression (RE2 syntax): invalid perl "
        "operator: (?<! (lookbehind is not supported)",
        "error: 1 problem in the configuration",
    ]
    nested = "(" * 200 + "law" + ")" * 200
    wl.write_text(wl.read_text().replace("'(?<!US )patent law'", "patent law[s]?"))
    wl.write_text(wl.read_text().replace("match: law OR re", f"match: {nested} OR re"))
    res = wirewatch("check", "--config", str(bundled_config))
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        f"{wl}:6:72: match: expression nested too deeply (more than 64 levels of parentheses "
        "and NOT)",
        "error: 1 problem in the configuration",
    ]


DOCS = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
LISTING_SOURCE = """\
sources:
  - id: moea
    type: html
    url: https://www.moea.gov.tw/news.html
    selectors:
      list: "ul.news > li"
      link: "a::attr(href)"
      date: "{date}"
      next_page: "{next_page}"
"""


def test_check_compiles_listing_selectors(write_config) -> None:
    """``time@datetime`` used to pass check and fail at poll time; now check names it."""
    root = write_config(
        {"sources.yaml": LISTING_SOURCE.format(date="time@datetime", next_page="//a[@rel='next'")}
    )
    res = wirewatch("check", "--config", str(root))
    assert res.returncode == 1
    src = root / "sources.yaml"
    lines = res.stderr.strip().splitlines()
    assert (
        f"{src}:8: sources[0].selectors.date: invalid CSS selector 'time@datetime': " in (lines[0])
    )
    assert "Expected selector, got <DELIM '@' at 4>" in lines[0]
    documented = DOCS.split("<!-- check: selector -->\n  ```\n  ", 1)[1].split("\n", 1)[0]
    assert lines[0].replace(str(root), "config") == documented  # docs/config.md's example
    assert lines[1].startswith(
        f"{src}:9: sources[0].selectors.next_page: invalid XPath selector \"//a[@rel='next'\": "
    )
    assert lines[-1] == "error: 2 problems in the configuration"
    good = LISTING_SOURCE.format(date="time::attr(datetime)", next_page="//a[@rel='next']/@href")
    (root / "sources.yaml").write_text(good)
    res = wirewatch("check", "--config", str(root))
    assert res.returncode == 0, res.stderr


def test_check_suggests_the_nearest_field(write_config) -> None:
    root = write_config(
        {
            "sources.yaml": LISTING_SOURCE.format(date="time", next_page="a.next").replace(
                "list:", "lits:"
            ),
            "wirewatch.yaml": "crawl:\n  perhost: 1\n",
        }
    )
    res = wirewatch("check", "--config", str(root))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert (
        f"{root / 'wirewatch.yaml'}:2: crawl.perhost: unknown field; did you mean 'per_host'?"
        in (lines)
    )
    assert (
        f"{root / 'sources.yaml'}:6: sources[0].selectors.lits: unknown field; "
        "did you mean 'list'?" in lines
    )
    assert not any("selectors.list: required field missing" in line for line in lines)
    assert lines[-1] == "error: 2 problems in the configuration"


def test_check_warns_about_a_term_that_looks_like_a_regex(write_config) -> None:
    root = write_config(
        {
            "watchlists/tw.yaml": 'groups:\n  tw: [Taiwan, re:"Tai(wan|pei)", "US\\\\d{7}"]\n'
            "match: tw\n"
        }
    )
    res = wirewatch("check", "--config", str(root))
    assert res.returncode == 0, res.stderr  # a warning, not an error
    wl = root / "watchlists" / "tw.yaml"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(`re:\"Tai(wan|pei)\"`, `US\\d{7}`)" in readme  # the README's examples
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {wl}:2: groups.tw[1]: term 're:\"Tai(wan|pei)\"' is matched as plain text "
        "but looks like a regular expression; to match it as one write {regex: 'Tai(wan|pei)'}",
        f"warning: {wl}:2: groups.tw[2]: term 'US\\\\d{{7}}' is matched as plain text "
        "but looks like a regular expression; to match it as one write {regex: 'US\\d{7}'}",
    ]
