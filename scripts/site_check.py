"""The series' website as a learner sees it, checked in a real browser (headless Chromium + Selenium).

    python scripts/site_check.py [--site build/site] [--out build/site-check] [--links-only]

First, over the built HTML (no browser): every internal link, image, script and stylesheet
resolves to a file of the site (and an #anchor to an id on its page); nothing is loaded from
outside the site (a <script>, stylesheet, image or frame with an http(s) address; links in prose
to papers are fine); the notebook pages follow each other in series order (previous/next); each
notebook page has its launch links (Colab, from scripts/notebook_header.py, the .ipynb, and a new
issue to report a problem); every image has alt text that says something (not empty, not the
file's hash, which is what myst-nb gives a figure).

Then it serves the site on localhost and opens every page in headless Chromium (the driver of
scripts/browser_check.py) as a reader would, at three widths:

- a laptop, 1366 px: no console error, no request leaving localhost and none that fails, every
  image loaded (natural width > 0), every formula typeset by the site's own MathJax (and the files
  its accessibility menu loads all there), one search box, and the search page finding a word; on
  notebook pages, every code cell fits its box (no sideways scrolling), printed output keeps its
  lines (no wrapping: it scrolls sideways instead), each code cell has a copy button and no output
  has one (the first one, pressed, copies its cell's code), and no code cell shows a line meant for
  tools (# NBVAL_..., # README figure:, # alt:);
- a phone, 390 px (emulated: a touch screen's viewport, overlay scrollbars): no page is wider than
  the screen, every display formula fits or scrolls inside its own box;
- a phone and a tablet, 390 and 800 px: on the landing page and the last notebook's page, the ☰
  button opens the site's navigation, whose link to another page then works, and the "Contents"
  button opens the page's sections.

Screenshots go to ``--out`` (git-ignored build/site-check/): the top of every page at 1366 and
390 px, on notebook pages the first formula and the first figure, and each drawer open.

Exits 1 when a check fails, 2 when it cannot run (no built site, no Chromium: `--links-only`
then runs the first part alone).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebook_header  # noqa: E402
from browser_check import Report, free_port, start_browser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# <link rel=...> values that make the browser fetch the file (rel="next", "search", "index" do not).
LOADING_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload", "prefetch",
                "manifest"}
SEARCH_WORD = "bottleneck"
# The widths a reader opens the site at: a laptop, a tablet, a phone (CSS pixels).
LAPTOP, TABLET, PHONE = (1366, 768), (800, 1280), (390, 844)


# ----------------------------------------------------------------------------- the built HTML
class Page(HTMLParser):
    """The ids of one HTML page and what it refers to: (tag, address, whether the browser loads it)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, bool]] = []
        self.classes: dict[str, list[str]] = {}     # the href of each <a> with a class, by class
        self.images: list[tuple[str, str | None]] = []     # (src, alt) of each <img>; alt None: none
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("id",) + (("name",) if tag == "a" else ()):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and "href" in a:
            self.refs.append((tag, a["href"], False))
            for cls in a.get("class", "").split():
                self.classes.setdefault(cls, []).append(a["href"])
        elif tag == "link" and "href" in a:
            self.refs.append((tag, a["href"], bool(LOADING_RELS & set(a.get("rel", "").lower().split()))))
        elif tag in ("script", "img", "iframe", "source", "video", "audio", "embed", "track") and a.get("src"):
            self.refs.append((tag, a["src"], True))
        elif tag == "object" and a.get("data"):
            self.refs.append((tag, a["data"], True))
        if tag == "img":
            self.images.append((a.get("src", ""), dict(attrs).get("alt")))
        if tag in ("img", "source") and a.get("srcset"):
            for candidate in a["srcset"].split(","):
                if candidate.strip():
                    self.refs.append((tag, candidate.split()[0], True))


def parse(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8", errors="replace"))


def resolve(site: Path, page: Path, address: str) -> tuple[Path, str]:
    """The file an internal address on ``page`` names, and its fragment."""
    parts = urlsplit(address)
    if parts.path:
        relative = page.relative_to(site).parent.as_posix()
        path = unquote(urljoin(f"/{relative}/" if relative != "." else "/", parts.path))
        target = site / PurePosixPath(path.lstrip("/"))
        if path.endswith("/") or target.is_dir():
            target = target / "index.html"
    else:
        target = page
    return target, unquote(parts.fragment)


def pages_of(site: Path) -> list[Path]:
    """The site's pages. The theme copies two Jinja macro files into _static/ (webpack-macros.html):
    no page links to them and they are no pages, so _static/ is left out."""
    return sorted(p for p in site.rglob("*.html") if p.relative_to(site).parts[0] != "_static")


def link_problems(site: Path) -> list[str]:
    """Every broken internal reference and every external load in the pages under ``site``."""
    problems, parsed = [], {}

    def parsed_page(path: Path) -> Page:
        if path not in parsed:
            parsed[path] = parse(path)
        return parsed[path]

    for page in pages_of(site):
        name = page.relative_to(site).as_posix()
        for tag, address, loads in parsed_page(page).refs:
            scheme = urlsplit(address).scheme.lower()
            if address.startswith("//") or scheme in ("http", "https"):
                if loads:
                    problems.append(f"{name}: <{tag}> loads {address} from outside the site")
                continue
            if scheme in ("mailto", "javascript", "tel", "data", "blob", "about") or address in ("", "#"):
                continue
            if scheme:
                problems.append(f"{name}: <{tag}> {address}: unexpected scheme {scheme}:")
                continue
            target, fragment = resolve(site, page, address)
            try:
                target.relative_to(site)
            except ValueError:
                problems.append(f"{name}: <{tag}> {address} points outside the site")
                continue
            if not target.is_file():
                problems.append(f"{name}: <{tag}> {address}: no such file {target.relative_to(site).as_posix()}")
            elif fragment and target.suffix == ".html" and fragment not in parsed_page(target).ids:
                where = target.relative_to(site).as_posix()
                problems.append(f"{name}: <{tag}> {address}: no id {fragment!r} in {where}")
    return problems


def series_order_problems(site: Path, notebooks: list[str]) -> list[str]:
    """The landing page, then every notebook page in order, each page's "next" link on the one after."""
    pages = ["index.html"] + [f"notebooks/{Path(n).stem}.html" for n in notebooks]
    problems = []
    for here, following in zip(pages, pages[1:], strict=False):
        if not (site / here).is_file():
            problems.append(f"{here}: missing")
            continue
        nexts = parse(site / here).classes.get("right-next", [])
        targets = [resolve(site, site / here, a)[0].relative_to(site).as_posix() for a in nexts]
        if targets != [following]:
            problems.append(f"{here}: 'next' leads to {targets or 'nothing'}, not {following}")
    if (site / pages[-1]).is_file() and parse(site / pages[-1]).classes.get("right-next"):
        problems.append(f"{pages[-1]}: the last notebook has a 'next' link")
    return problems


# What myst-nb writes as a figure's alt text when a build gives it none: the image's path, named by
# its SHA-256 (../_images/HASH.png).
HASH_ALT = re.compile(r"^[0-9a-f]{32,}(\.\w+)?$")


def alt_text_problems(site: Path) -> list[str]:
    """Every <img> of every page has alt text that says something: not missing, not empty, not a
    file's hash or its name."""
    problems = []
    for page in pages_of(site):
        name = page.relative_to(site).as_posix()
        for src, alt in parse(page).images:
            text = (alt or "").strip()
            named = PurePosixPath(text).name       # myst-nb writes the image's path: ../_images/HASH.png
            if not text or HASH_ALT.match(named) or named == PurePosixPath(urlsplit(src).path).name:
                problems.append(f"{name}: <img src={src!r}> has alt text {alt!r}")
    return problems


def launch_link_problems(site: Path, notebooks: list[str]) -> list[str]:
    """Each notebook page links to Colab (notebook_header's URL), to its own .ipynb and to a new
    issue on the series' repository."""
    problems = []
    for name in notebooks:
        page = site / "notebooks" / f"{Path(name).stem}.html"
        if not page.is_file():
            problems.append(f"{name}: no page")
            continue
        hrefs = [address for _, address, loads in parse(page).refs if not loads]
        if notebook_header.colab_url(name) not in hrefs:
            problems.append(f"{page.name}: no link to {notebook_header.colab_url(name)}")
        if name not in hrefs:
            problems.append(f"{page.name}: no download link to {name}")
        if not any(h.startswith(f"{notebook_header.REPO_URL}/issues/new") for h in hrefs):
            problems.append(f"{page.name}: no link to report a problem ({notebook_header.REPO_URL}/issues/new)")
    return problems


# ----------------------------------------------------------------------------- the browser
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:    # noqa: A002 (http.server's name)
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}/"


JS_SETTLE = """
const done = arguments[arguments.length - 1];
(async () => {
  for (const img of document.images) img.loading = 'eager';
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const math = [...document.querySelectorAll('.math')];
  return {
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth})),
    math: math.length,
    typeset: math.filter(m => m.querySelector('mjx-container')).length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
    mathjax: !!(window.MathJax && MathJax.version) ? MathJax.version : null,
    height: document.documentElement.scrollHeight,
  };
})().then(done, e => done({error: String(e)}));
"""


def network(driver, base: str) -> tuple[list[str], list[str]]:
    """(addresses requested outside ``base``, requests that failed) since the last call."""
    outside, failed, urls = [], [], {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            if not url.startswith(base) and urlsplit(url).scheme not in ("data", "blob", "about", "chrome"):
                outside.append(url)
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            failed.append(f"{params['response']['status']} {params['response']['url']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{params.get('errorText')} {urls.get(params['requestId'], '?')}")
    return outside, failed


def set_viewport(driver, size: tuple[int, int]) -> None:
    """A laptop's window (desktop scrollbars), or a phone's or tablet's screen as Chrome's device
    mode gives it (a mobile viewport: overlay scrollbars, the page's <meta name=viewport> applies)."""
    width, height = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 1024})


# A test of whether an element is where a reader sees it and can click it: inside the viewport and
# the topmost element at its centre (not hidden, not off-canvas, not under another element).
JS_SEEN = """
const seen = e => {
  const r = e.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) return false;
  if (r.bottom <= 0 || r.right <= 0 || r.top >= innerHeight || r.left >= innerWidth) return false;
  const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
  const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
  const top = document.elementFromPoint(x, y);
  return !!top && (top === e || e.contains(top) || top.contains(e));
};
"""
# The site's navigation (the book theme's left sidebar, moved into a <dialog> on narrow screens) and
# a page's sections ("Contents", the right sidebar). A search box: the field or the search icon.
NAVIGATION_LINKS = "#pst-primary-sidebar a.reference.internal, #pst-primary-sidebar-modal a.reference.internal"
SECTION_LINKS = "#pst-secondary-sidebar a.nav-link, #pst-secondary-sidebar-modal a.nav-link"
SEARCH_BOXES = ".search-button__button, form.bd-search input[type='search']"
# Lines of a code cell meant for tools, which scripts/build_site.py leaves out of the pages.
JS_TOOL_LINE = r"/^[ \t]*# ?(NBVAL_[A-Z_]+|README figure:|alt:)/m"


def screenshot(driver, out: Path, name: str, *selectors: str) -> bool:
    """The viewport, scrolled to the first element of the first selector that finds one (if any)."""
    if selectors:
        found = driver.execute_script(
            "const e = arguments[0].map(s => document.querySelector(s)).find(e => e); if (!e) return false;"
            "e.scrollIntoView({block: 'center', behavior: 'instant'}); return true;", list(selectors))
        if not found:
            return False
        time.sleep(0.3)
    driver.save_screenshot(str(out / f"{name}.png"))
    shot = out / f"{name}.png"
    print(f"  screenshot {shot.relative_to(ROOT) if out.is_relative_to(ROOT) else shot}")
    return True


def check_page(driver, report: Report, base: str, path: str, out: Path) -> dict:
    driver.get(base + path)
    state = driver.execute_async_script(JS_SETTLE)
    if "error" in state:
        report.check(False, f"{path}: the page settles", state["error"])
        return {"math": 0, "typeset": 0}
    time.sleep(0.5)     # room for late requests (fonts MathJax asked for)
    outside, failed = network(driver, base)
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    broken = [i["src"] for i in state["images"] if i["width"] == 0]
    report.check(not severe, f"{path}: no console error", "; ".join(severe)[:500])
    report.check(not outside, f"{path}: no request leaves localhost", ", ".join(outside)[:500])
    report.check(not failed, f"{path}: every request succeeds", ", ".join(failed)[:500])
    report.check(not broken, f"{path}: all {len(state['images'])} images loaded (natural width > 0)",
                 ", ".join(broken)[:500])
    report.check(state["typeset"] == state["math"] and not state["mathErrors"],
                 f"{path}: all {state['math']} formulas typeset by MathJax {state['mathjax'] or ''}".rstrip(),
                 f"{state['typeset']} typeset, {state['mathErrors']} errors" if state["math"] else "")
    searches = driver.execute_script(JS_SEEN + f"return [...document.querySelectorAll(\"{SEARCH_BOXES}\")]"
                                     ".filter(seen).length;")
    if path != "search.html":       # the search page has its own form besides
        report.check(searches == 1, f"{path}: one search box", f"{searches} seen")
    if path.startswith("notebooks/"):
        check_code_and_output(driver, report, path)
    stem = path.replace("/", "_").removesuffix(".html")
    screenshot(driver, out, stem)
    if path.startswith("notebooks/"):
        screenshot(driver, out, f"{stem}-math", "mjx-container[display='true']", "mjx-container")
        screenshot(driver, out, f"{stem}-figure", ".cell_output img")
    elif path == "index.html":
        screenshot(driver, out, f"{stem}-final-result", "figure img")
    return state


JS_CODE_AND_OUTPUT = """
const inputs = [...document.querySelectorAll('div.cell_input')];
const outputs = [...document.querySelectorAll('div.cell_output pre')];
const longest = e => e.textContent.split('\\n').reduce((a, l) => l.length > a.length ? l : a, '');
return {
  cells: inputs.length,
  scrolling: inputs.map(c => c.querySelector('pre')).filter(e => e && e.scrollWidth > e.clientWidth + 1)
                   .map(e => longest(e).trim().slice(0, 60)),
  outputs: outputs.length,
  wrapped: outputs.filter(e => getComputedStyle(e).whiteSpace !== 'pre'
                                || !['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).length,
  noCopy: inputs.filter(c => !c.querySelector('button.copybtn')).length,
  outputCopy: document.querySelectorAll('div.cell_output button.copybtn').length,
  toolLines: inputs.filter(c => TOOL_LINE.test(c.textContent)).map(c => c.textContent.match(TOOL_LINE)[0].trim()),
};
"""


def check_code_and_output(driver, report: Report, path: str) -> None:
    """A notebook page at laptop width: code cells fit, outputs keep their layout, copy buttons on
    the code only, no line meant for tools."""
    state = driver.execute_script(JS_CODE_AND_OUTPUT.replace("TOOL_LINE", JS_TOOL_LINE))
    scrolling, wrapped = state["scrolling"], state["wrapped"]
    report.check(not scrolling, f"{path}: every one of {state['cells']} code cells fits its box, no sideways "
                 "scrolling", f"{len(scrolling)} scroll: {scrolling[:3]}" if scrolling else "")
    report.check(not wrapped, f"{path}: all {state['outputs']} printed outputs keep their lines (white-space: pre, "
                 "scrolling sideways where wider)", f"{wrapped} wrap or clip" if wrapped else "")
    report.check(not state["noCopy"] and not state["outputCopy"], f"{path}: a copy button on every code cell, "
                 "none on the outputs",
                 f"{state['noCopy']} cells without, {state['outputCopy']} outputs with"
                 if state["noCopy"] or state["outputCopy"] else "")
    report.check(not state["toolLines"], f"{path}: no code cell shows a line meant for tools (# NBVAL_..., "
                 "# README figure:, # alt:)", ", ".join(dict.fromkeys(state["toolLines"]))[:300])


def check_copy(driver, report: Report, base: str, path: str) -> None:
    """The copy button of a page's first code cell, pressed as a reader does (hover, click), puts
    that cell's code on the clipboard (seen in the page's copy event), and nothing else."""
    from selenium.webdriver.common.action_chains import ActionChains

    driver.get(base + path)
    driver.execute_async_script(JS_SETTLE)
    cell = driver.execute_script("const c = document.querySelector('div.cell_input div.highlight');"
                                 "if (c) c.scrollIntoView({block: 'center', behavior: 'instant'}); return c;")
    buttons = cell.find_elements("css selector", "button.copybtn") if cell is not None else []
    button = buttons[0] if buttons else None
    if button is None:
        report.check(False, f"{path}: the first code cell's copy button copies its code", "no code cell or button")
        return
    driver.execute_script("window.copied = null; document.addEventListener('copy', () => {"
                          "const a = document.activeElement; window.copied = a && a.value !== undefined ? a.value"
                          " : String(getSelection()); }, true);")
    ActionChains(driver).move_to_element(cell).pause(0.5).move_to_element(button).click().perform()
    time.sleep(0.5)
    copied = driver.execute_script("return window.copied")
    code = driver.execute_script("return arguments[0].querySelector('pre').textContent", cell).rstrip("\n")
    report.check(copied == code, f"{path}: the first code cell's copy button copies its code, and only it",
                 f"copied {copied!r:.120}" if copied != code else "")
    network(driver, base), driver.get_log("browser")


JS_PHONE = """
const done = arguments[arguments.length - 1];
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const root = document.documentElement;
  const formulas = [...document.querySelectorAll('mjx-container[display="true"]')];
  const cut = formulas.filter(e => {
    const box = e.getBoundingClientRect(), style = getComputedStyle(e);
    const scrolls = ['auto', 'scroll'].includes(style.overflowX);
    return box.right > root.clientWidth + 1 || (e.scrollWidth > e.clientWidth + 1 && !scrolls);
  });
  return {width: root.scrollWidth, screen: root.clientWidth, formulas: formulas.length,
          cut: cut.map(e => (e.textContent || '').slice(0, 40))};
})().then(done, e => done({error: String(e)}));
"""


def check_phone(driver, report: Report, base: str, path: str, out: Path) -> None:
    """A page on a phone: no wider than the screen, every display formula whole or scrolling."""
    driver.get(base + path)
    state = driver.execute_async_script(JS_SETTLE) and driver.execute_async_script(JS_PHONE)
    network(driver, base), driver.get_log("browser")
    width = PHONE[0]
    if "error" in state:
        report.check(False, f"{path} at {width} px: the page settles", state["error"])
        return
    report.check(state["width"] <= state["screen"], f"{path} at {width} px: the page is no wider than the screen",
                 f"{state['width']} px wide on a {state['screen']} px screen")
    if state["formulas"]:
        report.check(not state["cut"], f"{path} at {width} px: all {state['formulas']} display formulas fit or "
                     "scroll inside their box", f"cut: {state['cut'][:3]}")
    screenshot(driver, out, f"{path.replace('/', '_').removesuffix('.html')}-{width}")


def press(driver, button: str):
    """Click, as a reader does, the button matching ``button`` that a reader sees (None: none seen)."""
    element = driver.execute_script(JS_SEEN + "return [...document.querySelectorAll(arguments[0])].find(seen) || null;",
                                    button)
    if element is not None:
        element.click()
    return element


def seen_links(driver, selector: str, wait: float = 3.0) -> list[str]:
    """The hrefs of the links matching ``selector`` that a reader sees, once some are (within ``wait`` s)."""
    deadline = time.monotonic() + wait
    while True:
        hrefs = driver.execute_script(JS_SEEN + "return [...document.querySelectorAll(arguments[0])].filter(seen)"
                                      ".map(a => a.href);", selector)
        if hrefs or time.monotonic() > deadline:
            return hrefs
        time.sleep(0.2)


def check_drawers(driver, report: Report, base: str, path: str, size: tuple[int, int], out: Path) -> None:
    """On a narrow screen the sidebars are drawers: the ☰ button must open the site's navigation (and
    a link in it lead to its page), the "Contents" button the page's sections."""
    width, stem = size[0], path.replace("/", "_").removesuffix(".html")
    here = base + path
    driver.get(here)
    driver.execute_async_script(JS_SETTLE)
    pressed = press(driver, "button.primary-toggle")
    links = [h for h in seen_links(driver, NAVIGATION_LINKS) if h.split("#")[0] != here] if pressed else []
    screenshot(driver, out, f"{stem}-{width}-navigation")
    followed = ""
    if links:
        link = driver.execute_script(JS_SEEN + "return [...document.querySelectorAll(arguments[0])]"
                                     ".find(a => seen(a) && a.href === arguments[1]);", NAVIGATION_LINKS, links[0])
        link.click()
        deadline = time.monotonic() + 5
        while driver.current_url.split("#")[0] != links[0].split("#")[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        followed = driver.current_url
    report.check(bool(links) and followed.split("#")[0] == links[0].split("#")[0],
                 f"{path} at {width} px: the ☰ button opens the site's navigation, and its links work",
                 "no ☰ button seen" if pressed is None else
                 "pressed, but no link of the navigation appeared" if not links else
                 f"{len(links)} links seen; following {links[0].removeprefix(base)} led to "
                 f"{followed.removeprefix(base)}")
    driver.get(here)
    driver.execute_async_script(JS_SETTLE)
    pressed = press(driver, "button.secondary-toggle")
    sections = seen_links(driver, SECTION_LINKS) if pressed else []
    screenshot(driver, out, f"{stem}-{width}-contents")
    report.check(bool(sections), f"{path} at {width} px: the Contents button opens the page's sections",
                 "no Contents button seen" if pressed is None else
                 "pressed, but no section link appeared" if not sections else f"{len(sections)} sections seen")
    network(driver, base), driver.get_log("browser")


def check_math_menu(driver, report: Report, base: str, path: str) -> None:
    """MathJax's menu can turn on its accessibility explorer and speech, which load more of MathJax
    (site/conf.py copies only part of it): every file they ask for must be on the site."""
    driver.get(base + path)
    driver.execute_async_script(JS_SETTLE)
    network(driver, base), driver.get_log("browser")
    turned_on = bool(driver.execute_script("""
const menu = MathJax.startup.document.menu;
for (const name of ['explorer', 'speech']) menu.menu.pool.lookup(name).setValue(true);
return menu.settings.explorer === true && menu.settings.speech === true;"""))
    time.sleep(8)       # MathJax loads the speech rule engine and its rules, then re-renders
    outside, failed = network(driver, base)
    report.check(turned_on and not outside and not failed,
                 f"{path}: MathJax's accessibility explorer and speech, turned on, load all they need from the site",
                 ", ".join(outside + failed)[:500] if turned_on else "could not turn them on")


def check_search(driver, report: Report, base: str, out: Path) -> None:
    driver.get(f"{base}search.html?q={SEARCH_WORD}")
    deadline, found = time.monotonic() + 30, 0
    while time.monotonic() < deadline and not found:
        time.sleep(0.5)
        found = driver.execute_script("return document.querySelectorAll('#search-results li').length")
    network(driver, base)
    driver.get_log("browser")
    report.check(found > 0, f"search.html: searching '{SEARCH_WORD}' finds pages", f"{found} results")
    screenshot(driver, out, "search-results")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site-check", help="screenshot folder")
    parser.add_argument("--links-only", action="store_true", help="check the built HTML only, open no browser")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"site check cannot run: {site}/index.html is missing (make site builds it)")
        return 2
    started, report = time.monotonic(), Report()
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    pages = [p.relative_to(site).as_posix() for p in pages_of(site)]
    problems = link_problems(site)
    for problem in problems[:40]:
        print(f"  {problem}")
    report.check(not problems, f"links: every internal reference of {len(pages)} pages resolves, nothing loads "
                 "from outside the site", f"{len(problems)} problems" if problems else "")
    for what, found in (("the pages follow the series order (next links)", series_order_problems(site, notebooks)),
                        ("every notebook page has its Colab, .ipynb and report-a-problem links",
                         launch_link_problems(site, notebooks)),
                        ("every image has alt text that says something (not empty, not a file hash)",
                         alt_text_problems(site))):
        report.check(not found, what, f"{len(found)} problems: " + "; ".join(found)[:1000] if found else "")
    if not args.links_only:
        try:
            import selenium  # noqa: F401
        except ImportError:
            print("site check cannot open a browser: selenium is not installed (pip install -r requirements-dev.txt)")
            return 2
        args.out.mkdir(parents=True, exist_ok=True)
        for old in args.out.glob("*.png"):
            old.unlink()
        work = Path(tempfile.mkdtemp(prefix="site-check-"))
        server, driver = None, None
        try:
            server, base = serve(site)
            try:
                driver = start_browser(work, logs=True)
            except FileNotFoundError as error:
                print(f"site check cannot open a browser: {error}")
                return 2
            print(f"serving {site} at {base}", flush=True)
            driver.get("about:blank")
            network(driver, base), driver.get_log("browser")     # what the browser did on starting
            print(f"-- a laptop, {LAPTOP[0]} × {LAPTOP[1]}", flush=True)
            set_viewport(driver, LAPTOP)
            math = typeset = 0
            for path in pages:
                state = check_page(driver, report, base, path, args.out)
                math, typeset = math + state["math"], typeset + state["typeset"]
            report.check(typeset > 0, "the site has formulas, and MathJax typeset them", f"{typeset} of {math}")
            first_notebook = next(p for p in pages if p.startswith("notebooks/"))
            check_copy(driver, report, base, first_notebook)
            check_math_menu(driver, report, base, first_notebook)
            check_search(driver, report, base, args.out)
            print(f"-- a phone, {PHONE[0]} × {PHONE[1]}", flush=True)
            set_viewport(driver, PHONE)
            for path in pages:
                check_phone(driver, report, base, path, args.out)
            drawer_pages = ["index.html"] + [f"notebooks/{Path(n).stem}.html" for n in notebooks[-1:]]
            for size in (PHONE, TABLET):
                print(f"-- the drawers, {size[0]} × {size[1]}", flush=True)
                set_viewport(driver, size)
                for path in drawer_pages:
                    check_drawers(driver, report, base, path, size, args.out)
        except Exception as error:      # the browser giving up
            report.check(False, f"{type(error).__name__}: {error}")
        finally:
            if driver is not None:
                driver.quit()
            if server is not None:
                server.shutdown()
            shutil.rmtree(work, ignore_errors=True)
    print(f"site check took {time.monotonic() - started:.0f} s")
    print(f"site-check: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
