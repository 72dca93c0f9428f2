"""A real browser (Debian's chromium via chromedriver) through every page of the console.

Skipped when chromium or its driver is missing, except in CI (``CI`` set), where .ci/run
installs them and a missing browser is a failure. Set ``WIREWATCH_SCREENSHOTS=docs`` to
refresh the screenshots the README shows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.conftest import HttpReceiver
from tests.conftest import REPO
from tests.console.conftest import EN_TITLE, ZH_TITLE, Running, open_console

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1360,900",
)


def _browser(javascript: bool = True) -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM and DRIVER):
        reason = "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='wirewatch-chromium-')}")
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture
def site(tmp_path: Path, hooks: tuple[HttpReceiver, HttpReceiver]) -> Iterator[tuple[str, object]]:
    from scheduler.http import HttpServer

    db = f"sqlite:///{tmp_path / 'w.db'}"
    config, engine, sessions, ids = open_console(db, tmp_path / "config", hooks)
    running = Running(HttpServer("127.0.0.1:0", lambda: config, sessions, daemon=False))
    try:
        yield running.server.url, ids
    finally:
        running.close()
        engine.dispose()


def _shot(driver: object, name: str, tmp_path: Path) -> None:
    target = os.environ.get("WIREWATCH_SCREENSHOTS")
    folder = (REPO / target) if target else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"console-{name}.png"))  # type: ignore[attr-defined]


def _no_injected_script(driver: object) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # type: ignore[attr-defined]  # noqa: B018
    sources = driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.scripts].map(s => s.getAttribute('src'))"
    )
    assert sources == ["/static/vendor/htmx-2.0.11/htmx.min.js", "/static/console.js"]


def test_every_page_in_a_browser(site: tuple[str, object], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, ids = site
    driver = _browser()
    wait = WebDriverWait(driver, 30)
    try:
        # Stories: the MOU story in English and in Chinese, and the hostile one, inert.
        driver.get(f"{base}/stories")
        text = driver.find_element(By.TAG_NAME, "main").text
        assert EN_TITLE in text and ZH_TITLE in text and "<script>alert(1)</script>" in text
        _no_injected_script(driver)
        _shot(driver, "stories", tmp_path)

        # Search with the watchlist language.
        box = driver.find_element(By.NAME, "q")
        box.send_keys('"合作備忘錄" OR "memoranda of understanding"')
        box.submit()
        wait.until(ec.url_contains("q="))
        links = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.stories td a")]
        assert links == [EN_TITLE, ZH_TITLE]

        # The Chinese story's page.
        driver.find_element(By.LINK_TEXT, ZH_TITLE).click()
        wait.until(ec.title_contains(ZH_TITLE))
        assert "中央社" in driver.find_element(By.TAG_NAME, "main").text

        # The English story: articles, snippet, terms, deliveries; retry the dead one.
        driver.get(f"{base}/stories/{ids.en}")
        main = driver.find_element(By.TAG_NAME, "main").text
        assert "MOEA news" in main and "Focus Taiwan" in main
        marks = [m.text for m in driver.find_elements(By.TAG_NAME, "mark")]
        assert "memoranda of understanding" in marks
        _shot(driver, "story", tmp_path)
        dead = driver.find_element(By.XPATH, "//tr[td[1]='hook-down']")
        assert "dead" in dead.text
        dead.find_element(By.XPATH, ".//button[text()='Retry']").click()
        wait.until(ec.url_contains("retried="))
        row = driver.find_element(By.XPATH, "//tr[td[1]='hook-down']")
        assert "pending" in row.text and "Retry" not in row.text

        # Alerts: the ledger, filtered.
        driver.get(f"{base}/alerts?status=sent")
        assert "hook-ok" in driver.find_element(By.TAG_NAME, "table").text
        driver.get(f"{base}/alerts")
        _shot(driver, "alerts", tmp_path)

        # Sources: health, the 30-day chart, poll now.
        driver.get(f"{base}/sources")
        assert len(driver.find_elements(By.CSS_SELECTOR, "td.chart svg")) == 4
        _shot(driver, "sources", tmp_path)
        driver.find_element(By.CSS_SELECTOR, "#source-cna-zh button").click()
        wait.until(ec.url_contains("polled=cna-zh"))
        assert "cna-zh is due now" in driver.find_element(By.CLASS_NAME, "notice").text

        # Watchlists: the try-out finds the Chinese story as you type 合作備忘錄.
        driver.get(f"{base}/watchlists/taiwan-us")
        area = driver.find_element(By.ID, "yaml")
        text_now = area.get_attribute("value")
        assert ZH_TITLE not in driver.find_element(By.ID, "tryout-results").text
        anchor = "memorandum of understanding"
        driver.execute_script(
            "const a = arguments[0]; const at = a.value.indexOf(arguments[1]) + "
            "arguments[1].length; a.focus(); a.setSelectionRange(at, at);",
            area,
            anchor,
        )
        area.send_keys(", 合作備忘錄")
        wait.until(ec.text_to_be_present_in_element((By.ID, "tryout-results"), ZH_TITLE))
        results = driver.find_element(By.ID, "tryout-results").text
        assert "3 stories would have matched" in results
        assert area.get_attribute("value") != text_now
        assert driver.find_element(By.CSS_SELECTOR, "button.copy").is_displayed()
        driver.execute_script("document.querySelector('.actions').scrollIntoView()")
        _shot(driver, "tryout", tmp_path)

        # A typo shows check's error with its column, as you type.
        driver.execute_script(
            "arguments[0].value = arguments[0].value.replace('match: taiwan AND', "
            "'match: taiwan AND AND'); arguments[0].dispatchEvent(new Event('input', "
            "{bubbles: true}));",
            area,
        )
        wait.until(ec.text_to_be_present_in_element((By.ID, "tryout-results"), "Not valid"))
        assert "watchlists/taiwan-us.yaml:7:" in driver.find_element(By.ID, "tryout-results").text
    finally:
        driver.quit()  # type: ignore[attr-defined]


def test_the_try_out_works_without_javascript(site: tuple[str, object]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = site
    driver = _browser(javascript=False)
    try:
        driver.get(f"{base}/watchlists/taiwan-us")
        assert not driver.find_element(By.CSS_SELECTOR, "button.copy").is_displayed()
        area = driver.find_element(By.ID, "yaml")
        area.clear()
        area.send_keys("groups:\n  taiwan: [經濟部]\n  mou: [合作備忘錄]\nmatch: taiwan AND mou\n")
        driver.find_element(By.XPATH, "//button[text()='Try']").click()
        # The click posts the form; the answer is a new page, which may not have loaded yet.
        WebDriverWait(driver, 30).until(
            ec.text_to_be_present_in_element(
                (By.ID, "tryout-results"), "1 story would have matched"
            )
        )
        results = driver.find_element(By.ID, "tryout-results").text
        assert "1 story would have matched" in results and ZH_TITLE in results
    finally:
        driver.quit()  # type: ignore[attr-defined]
