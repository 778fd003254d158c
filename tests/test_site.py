"""The documentation site, served on 127.0.0.1 and opened in headless Chromium.

Every page loads without a console error and makes requests to the local server only (read from
Chrome's performance log); every image on a tutorial page has loaded; every internal link, and
every #fragment it names, resolves; the graph pictures have a tooltip on every node; the
notebook math is typeset by the MathJax the site serves; search finds "backward".

Needs the `docs` extra (MkDocs, Selenium) and Chromium with chromedriver from the system's
packages (Debian: `apt-get install chromium chromium-driver`); nothing is downloaded at run time.
Without them the test skips and says why, unless TINYGRAD_RNN_SITE_REQUIRED=1 (as in CI), where
it fails. TINYGRAD_RNN_SITE=DIR tests a site already built there; otherwise the site is built
into a temporary folder first. TINYGRAD_RNN_SCREENSHOTS=DIR keeps the screenshots taken and
requests.json, every request each page made.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.site

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
TUTORIALS = [
    "01_autograd_basics",
    "02_bptt_by_hand_vs_autograd",
    "03_sentiment",
    "04_time_series",
    "05_vanishing_gradients",
    "06_compiled_step",
]
GRAPH_TUTORIALS = {"01_autograd_basics", "02_bptt_by_hand_vs_autograd", "03_sentiment", "05_vanishing_gradients"}
PAGE_TIMEOUT = 30  # seconds for a page and its scripts to settle


def _missing(reason: str):
    if os.environ.get("TINYGRAD_RNN_SITE_REQUIRED") == "1":
        pytest.fail(f"the site test must run here (TINYGRAD_RNN_SITE_REQUIRED=1), but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    import mkdocs  # noqa: F401
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as error:
    _missing(f'the site test needs the docs extra (pip install -e ".[docs]"): {error}')

CHROMIUM = next((shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name)), None)
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    _missing(
        "the site test needs Chromium and chromedriver from the system's packages "
        "(Debian: apt-get install chromium chromium-driver)"
    )


# ------------------------------------------------------------------ the site and its server


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    given = os.environ.get("TINYGRAD_RNN_SITE")
    if given:
        folder = pathlib.Path(given)
        assert (folder / "index.html").is_file(), f"TINYGRAD_RNN_SITE={given} holds no built site"
        return folder
    folder = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stderr[-5000:]}"
    return folder


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requested: list = []

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        QuietHandler.requested.append(self.path)


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
    ):
        options.add_argument(argument)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses its sandbox as root
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    yield driver
    driver.quit()


def page_urls(site: pathlib.Path, base: str) -> list[str]:
    """The URL of every page the build wrote (folder/index.html is served as folder/)."""
    urls = []
    for path in sorted(site.rglob("*.html")):
        relative = path.relative_to(site).as_posix()
        if relative.startswith("assets/"):
            continue
        urls.append(base + (relative[: -len("index.html")] if relative.endswith("index.html") else relative))
    return urls


# ------------------------------------------------------------------ what a page did


def requests_made(driver) -> list[str]:
    """URLs the page asked for since the last call, from Chrome's performance log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def settle(driver) -> None:
    """Wait until the document has loaded and MathJax has typeset it."""
    WebDriverWait(driver, PAGE_TIMEOUT).until(lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(driver, PAGE_TIMEOUT).until(
        lambda d: d.execute_script("return !!(window.MathJax && MathJax.startup && MathJax.startup.promise)")
    )
    driver.set_script_timeout(PAGE_TIMEOUT)
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "MathJax.startup.promise.then(() => done(true), () => done(false));"
    )


def is_local(url: str, base: str) -> bool:
    return url.startswith(base) or url.split(":", 1)[0] in ("data", "blob", "about")


class Anchors(html.parser.HTMLParser):
    """The ids and names a page defines, for checking #fragments."""

    def __init__(self):
        super().__init__()
        self.names = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.names.add(value)


def anchors_of(site: pathlib.Path, path: str, cache: dict) -> set | None:
    """The anchors of the file a local URL path serves, or None when nothing is served there."""
    if path not in cache:
        target = site / urllib.parse.unquote(path.lstrip("/"))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            cache[path] = None
        elif target.suffix == ".html":
            parser = Anchors()
            parser.feed(target.read_text(encoding="utf-8"))
            cache[path] = parser.names
        else:
            cache[path] = set()
    return cache[path]


# ------------------------------------------------------------------ the test


def test_every_page_in_a_real_browser(site, server, browser, tmp_path):
    urls = page_urls(site, server)
    assert len(urls) >= 15, urls
    for name in TUTORIALS:
        assert f"{server}tutorials/{name}/" in urls, name
    shots = pathlib.Path(os.environ.get("TINYGRAD_RNN_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    problems, requested, links, anchor_cache, log = [], [], {}, {}, {}
    for url in urls:
        browser.get(url)
        settle(browser)
        made = requests_made(browser)
        requested.extend(made)
        log[url] = made
        problems += [f"{url}: request to another host: {other}" for other in made if not is_local(other, server)]
        problems += [f"{url}: console error: {error}" for error in console_errors(browser)]
        for href in browser.execute_script("return Array.from(document.querySelectorAll('a[href]'), a => a.href)"):
            if href.startswith(server):
                links.setdefault(href, url)

        if "/tutorials/" in url and url != f"{server}tutorials/":
            images = browser.execute_script(
                "return Array.from(document.images, i => [i.currentSrc || i.src, i.complete, i.naturalWidth])"
            )
            problems += [
                f"{url}: image not loaded: {src[:80]}"
                for src, complete, width in images
                if not (complete and width > 0)
            ]
            graphs = browser.find_elements(By.CSS_SELECTOR, ".jp-RenderedSVG svg g.graph")
            if not images and not graphs:
                problems.append(f"{url}: a tutorial page without a single picture")
            if any(src.startswith("data:image/svg") for src, _, _ in images):
                problems.append(f"{url}: an SVG picture shown as an image, where its tooltips cannot show")
            untipped = browser.execute_script(
                "return Array.from(document.querySelectorAll('svg g.node'))"
                ".filter(g => !g.querySelector('a[*|title]')).map(g => g.textContent.trim()).slice(0, 5)"
            )
            problems += [f"{url}: graph node without a tooltip: {text}" for text in untipped]
            if url.rstrip("/").rsplit("/", 1)[-1] in GRAPH_TUTORIALS and not graphs:
                problems.append(f"{url}: the unrolled graph is not drawn as SVG")
            leftover = browser.execute_script(
                "return Array.from(document.querySelectorAll('.jp-MarkdownOutput p, .jp-MarkdownOutput li'),"
                " e => e.textContent).filter(t => /\\$[^$]+\\$/.test(t)).slice(0, 3)"
            )
            if not browser.find_elements(By.CSS_SELECTOR, "mjx-container") or leftover:
                problems.append(f"{url}: math not typeset: {leftover}")
            download = browser.find_elements(By.CSS_SELECTOR, "a[href$='.ipynb']")
            if not download:
                problems.append(f"{url}: no download link for the .ipynb")

        if url == server:
            browser.save_screenshot(str(shots / "home.png"))
        if url == f"{server}tutorials/05_vanishing_gradients/":
            pictures = browser.find_elements(By.CSS_SELECTOR, ".jp-RenderedSVG")
            if pictures:  # the first graph picture, a little below the top of the window
                browser.execute_script(
                    "window.scrollTo(0, arguments[0].getBoundingClientRect().top + window.scrollY - 160)", pictures[0]
                )
                time.sleep(0.5)
            browser.save_screenshot(str(shots / "tutorial.png"))

    for href, found_on in sorted(links.items()):
        parts = urllib.parse.urlsplit(href)
        anchors = anchors_of(site, parts.path, anchor_cache)
        if anchors is None:
            problems.append(f"{found_on}: broken link {href}")
        elif parts.fragment and urllib.parse.unquote(parts.fragment) not in anchors:
            problems.append(f"{found_on}: link {href} names a fragment the page does not have")

    (shots / "requests.json").write_text(json.dumps(log, indent=1))  # every request, page by page
    assert not problems, "\n".join(problems[:40])
    assert any("/assets/mathjax/tex-mml-chtml.js" in url for url in requested), "MathJax was not loaded from the site"
    served = set(QuietHandler.requested)
    assert any(path.startswith("/assets/mathjax/") for path in served)
    assert (shots / "home.png").stat().st_size > 0 and (shots / "tutorial.png").stat().st_size > 0


def test_each_tutorial_downloads_as_an_executed_notebook(site, server):
    for name in TUTORIALS:
        with urllib.request.urlopen(f"{server}tutorials/{name}/{name}.ipynb") as response:
            notebook = json.load(response)
        code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
        assert code and all(cell.get("execution_count") for cell in code), name
        assert sum(len(cell["outputs"]) for cell in code) > 0, name


def test_search_finds_backward(server, browser):
    browser.get(server)
    settle(browser)
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    if not box.is_displayed():  # a narrow window shows a search button instead of the box
        browser.find_element(By.CSS_SELECTOR, "label.md-header__button[for='__search']").click()
    box.click()
    box.send_keys("backward")

    def results_text(driver):
        # the list is drawn again as each key arrives: read it whole, again while it is replaced
        results = driver.find_elements(By.CSS_SELECTOR, "li.md-search-result__item")
        text = " ".join(result.text for result in results).lower()
        return text if "backward" in text else False

    text = WebDriverWait(browser, PAGE_TIMEOUT, ignored_exceptions=(StaleElementReferenceException,)).until(
        results_text
    )
    assert "backward" in text
    box.send_keys(Keys.ENTER)
    made = requests_made(browser)
    assert all(is_local(url, server) for url in made), [url for url in made if not is_local(url, server)]
    assert console_errors(browser) == []


def test_the_api_pages_document_every_public_name(site):
    import importlib

    import tinygrad_rnn
    from tinygrad_rnn import nn, optim

    jit = importlib.import_module("tinygrad_rnn.jit")

    anchors, cache = set(), {}
    for page in sorted((site / "api").rglob("index.html")):
        anchors |= anchors_of(site, "/" + page.relative_to(site).as_posix(), cache)
    documented = {anchor.rsplit(".", 1)[-1] for anchor in anchors if anchor.startswith("tinygrad_rnn.")}
    optimizers = [
        name
        for name in optim.__all__
        if isinstance(getattr(optim, name), type) and issubclass(getattr(optim, name), optim.Optimizer)
    ]
    assert {"SGD", "Adam"} <= set(optimizers)
    wanted = {"Tensor", "RNN", "LSTM", "GRU", "jit", *optimizers, *nn.__all__, *jit.__all__}
    wanted |= {name for name in tinygrad_rnn.__all__ if not isinstance(getattr(tinygrad_rnn, name), type(nn))}
    assert sorted(wanted - documented) == []
