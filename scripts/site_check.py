"""The series' website as a learner sees it, checked in a real browser (headless Chromium + Selenium).

    python scripts/site_check.py [--site build/site] [--out build/site-check] [--links-only]

First, over the built HTML (no browser): every internal link, image, script and stylesheet
resolves to a file of the site (and an #anchor to an id on its page); nothing is loaded from
outside the site (a <script>, stylesheet, image or frame with an http(s) address; links in prose
to papers are fine); the notebook pages follow each other in series order (previous/next); each
notebook page has its launch links (Colab, from scripts/notebook_header.py, and the .ipynb).

Then it serves the site on localhost and opens every page in headless Chromium (the driver of
scripts/browser_check.py): no console error, no request leaving localhost and none that fails, every
image loaded (natural width > 0), every formula typeset by the site's own MathJax (and the files its
accessibility menu loads all there), and the search page finding a word. Screenshots go to ``--out``
(git-ignored build/site-check/): the top of every page, and on notebook pages the first formula and
the first figure.

Exits 1 when a check fails, 2 when it cannot run (no built site, no Chromium: `--links-only`
then runs the first part alone).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
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


# ----------------------------------------------------------------------------- the built HTML
class Page(HTMLParser):
    """The ids of one HTML page and what it refers to: (tag, address, whether the browser loads it)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, bool]] = []
        self.classes: dict[str, list[str]] = {}     # the href of each <a> with a class, by class
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


def launch_link_problems(site: Path, notebooks: list[str]) -> list[str]:
    """Each notebook page links to Colab (notebook_header's URL) and to its own .ipynb."""
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


def screenshot(driver, out: Path, name: str, *selectors: str) -> bool:
    """The viewport, scrolled to the first element of the first selector that finds one (if any)."""
    if selectors:
        found = driver.execute_script(
            "const e = arguments[0].map(s => document.querySelector(s)).find(e => e); if (!e) return false;"
            "e.scrollIntoView({block: 'center'}); return true;", list(selectors))
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
    stem = path.replace("/", "_").removesuffix(".html")
    screenshot(driver, out, stem)
    if path.startswith("notebooks/"):
        screenshot(driver, out, f"{stem}-math", "mjx-container[display='true']", "mjx-container")
        screenshot(driver, out, f"{stem}-figure", ".cell_output img")
    elif path == "index.html":
        screenshot(driver, out, f"{stem}-final-result", "figure img")
    return state


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
                        ("every notebook page has its Colab and .ipynb links", launch_link_problems(site, notebooks))):
        report.check(not found, what, "; ".join(found))
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
            math = typeset = 0
            for path in pages:
                state = check_page(driver, report, base, path, args.out)
                math, typeset = math + state["math"], typeset + state["typeset"]
            report.check(typeset > 0, "the site has formulas, and MathJax typeset them", f"{typeset} of {math}")
            check_math_menu(driver, report, base, next(p for p in pages if p.startswith("notebooks/")))
            check_search(driver, report, base, args.out)
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
