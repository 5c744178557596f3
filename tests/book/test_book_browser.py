"""The built book, as a reader's browser shows it: pages render with their titles, the diagrams load,
and the search page finds what the chapters teach.

Needs the built book (`jupyter-book build . -W --keep-going` writes _build/html) and Debian's
`chromium` and `chromium-driver`. Without them the tests skip with the reason, except in CI
(CI=true), where a missing prerequisite is a failure. A screenshot of the home page is saved to
_build/screenshots/home.png for the CI artifacts.
"""

import os
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.helpers import ROOT, serve

pytestmark = pytest.mark.browser

HTML = ROOT / "_build" / "html"
SCREENSHOT = ROOT / "_build" / "screenshots" / "home.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
    # Puppeteer's defaults: on a loaded CI machine Chromium must not lower the page's priority or
    # slow its timers (Sphinx's search shows one result per timer tick).
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
)
WAIT_SECONDS = 30
FIRST_LAB = "labs/01-containers/lab"


def missing_prerequisite() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if not (HTML / "index.html").is_file():
        return f"the book is not built ({HTML} is missing): run `jupyter-book build . -W --keep-going`"
    for program in (CHROMIUM, CHROMEDRIVER):
        if not program.is_file():
            return f"{program} is missing: install Debian's chromium and chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return None


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The built book served over HTTP on a free loopback port, as a reader's browser would get it."""
    reason = missing_prerequisite()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI, but {reason}")
        pytest.skip(reason)
    with serve(partial(QuietHandler, directory=str(HTML))) as url:
        yield url


class QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a page's files come over a few connections, as from a real server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on the test output."""


@pytest.fixture(scope="module")
def browser(site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for a failure's message
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(browser: Any, url: str) -> str:
    """Load `url`, wait for its main heading, and return the heading's text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    heading = WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "article h1"))
    )
    return str(heading.get_attribute("textContent")).strip().rstrip("#¶").strip()


def notebook_title(entry: str) -> str:
    """The '# ' title in the first cell of a notebook (the heading the book page shows)."""
    opening: str = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4).cells[0].source
    return next(line[2:].strip() for line in opening.splitlines() if line.startswith("# "))


def test_home_page_renders_and_is_captured(site: str, browser: Any) -> None:
    assert open_page(browser, f"{site}/") == "Containerizing .NET"
    assert "Containerizing .NET" in browser.title
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT)), "chromium could not save the screenshot"
    assert SCREENSHOT.stat().st_size > 10_000, "the screenshot is implausibly small: an empty page?"


def test_chapter_renders_with_its_diagrams(site: str, browser: Any) -> None:
    assert open_page(browser, f"{site}/book/dotnet-images.html").endswith("The official .NET images")
    widths = browser.execute_script(
        "return Array.from(document.querySelectorAll('img.diagram'), img => img.naturalWidth)"
    )
    assert len(widths) == 2, f"expected the layer stack and the multi-stage diagrams, found {len(widths)}"
    assert all(width > 0 for width in widths), f"a diagram did not load: natural widths {widths}"


def test_lab_page_renders_with_its_title(site: str, browser: Any) -> None:
    assert open_page(browser, f"{site}/{FIRST_LAB}.html") == notebook_title(FIRST_LAB)


PAGE_STATE = """return {
    readyState: document.readyState,
    results: (document.getElementById('search-results') || {innerText: 'no #search-results'}).innerText.slice(0, 300),
    scripts: {Search: typeof Search, Documentation: typeof Documentation, options: typeof DOCUMENTATION_OPTIONS},
    resources: performance.getEntriesByType('resource').map(e => e.name.split('/').pop() + ' ' + e.responseStatus),
}"""


def page_state(browser: Any) -> str:
    """What the page got and ran, and what its console said: enough to tell a script that never
    arrived from a search that found nothing."""
    console = [entry["message"] for entry in browser.get_log("browser")]
    return f"{browser.execute_script(PAGE_STATE)}; console: {console}"


def test_search_finds_multi_stage_builds(site: str, browser: Any) -> None:
    """Waits for Sphinx's own "Search finished" line, then reads the result links. The summaries under
    each result arrive later, one fetch per page, so the test does not wait on their text."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{site}/search.html?q=multi-stage")
    try:
        WebDriverWait(browser, WAIT_SECONDS).until(
            lambda driver: driver.find_element(By.CSS_SELECTOR, "#search-results .search-summary").text
        )
    except TimeoutException:
        pytest.fail(f"the search page did not finish within {WAIT_SECONDS} s: {page_state(browser)}")
    status = browser.find_element(By.CSS_SELECTOR, "#search-results .search-summary").text
    pages = [link.get_attribute("href") for link in browser.find_elements(By.CSS_SELECTOR, "#search-results li > a")]
    assert any(page.split("#")[0].endswith("/book/dotnet-images.html") for page in pages), (status, pages)
