"""What a learner meets in JupyterLab, checked in a real browser (headless Chromium + Selenium).

    python scripts/browser_check.py [--out build/browser] [--timeout 1500] [--keep] [--open-only]

Works on a temporary copy of the repository (the committed notebooks are never modified), with
an empty model cache, as a first-time reader's clone would be. It starts JupyterLab on
localhost (a free port, a token, its own settings, workspace and runtime folders), drives it
with headless Chromium, and checks:

1. every notebook opens without an error, and opening it changes nothing on disk (its bytes
   are compared after the kernel started and autosave had its chance, and again after a save);
2. notebook 05 runs top to bottom (Run All) without a Python error, and no cell but the
   translate box keeps a widget view (progress bars leave text);
3. the translate box: a known sentence typed then Translate clicked, an unknown word with
   Enter, Enter on unchanged text, an empty box — each request draws exactly one result
   (one map on screen, and the box's own count of results equals the number of requests);
4. notebook 05, saved, closed and reopened, shows no "Error displaying widget".

Screenshots go to ``--out`` (git-ignored ``build/browser/``); their names are printed. Needs
``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian's chromium and chromium-driver),
or CHROMIUM and CHROMEDRIVER naming them. Exits 1 when a check fails, 2 when it cannot run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_TO_RUN = "05_visualizing_attention.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_ERROR = "Error displaying widget"
AUTOSAVE_SECONDS = 2
# What the translate box is asked, in order: (what is done, the text, how it is sent, expected line)
REQUESTS = [
    ("known sentence, typed then Translate clicked", "le chien de ma tante ne mange pas la pomme verte.",
     "click", "FR: le chien de ma tante ne mange pas la pomme verte ."),
    ("unknown word, typed then Enter", "le zèbre mange une pomme verte.", "enter",
     "note: unknown word(s) ['zèbre'] were replaced by <unk>"),
    ("Enter on unchanged text", None, "enter", "FR: le zèbre mange une pomme verte ."),
    ("empty box, Translate clicked", "", "click", "error: nothing to translate: the sentence is empty"),
]


class CheckFailed(Exception):
    pass


class Report:
    """Prints one ✓/✗ line per check and keeps the count."""

    def __init__(self) -> None:
        self.passed, self.failed = 0, 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        self.passed, self.failed = self.passed + ok, self.failed + (not ok)
        print(f"{'✓' if ok else '✗'} {what}" + (f"  ({detail})" if detail else ""), flush=True)
        return ok


# ----------------------------------------------------------------------------- setup
def copy_repository(destination: Path) -> Path:
    """The files git tracks (or, without git, the tree minus virtual environments and caches)."""
    repo = destination / "repo"
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        files = [f for f in listed.decode().split("\0") if f and (ROOT / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "build", "cache", "__pycache__", ".ipynb_checkpoints"}
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(ROOT).parts) and not p.name.startswith(".venv")]
    for name in files:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    return repo


def write_settings(settings: Path) -> None:
    """JupyterLab user settings for the check: autosave every few seconds, no news fetched."""
    for plugin, values in {
        "@jupyterlab/docmanager-extension/plugin": {"autosave": True, "autosaveInterval": AUTOSAVE_SECONDS},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(repo: Path, work: Path, port: int, token: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "MPLBACKEND")}
    env.update(JUPYTERLAB_SETTINGS_DIR=str(work / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), JUPYTER_CONFIG_DIR=str(work / "config"))
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={repo}", "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(work / "jupyterlab.log", "wb")
    server = subprocess.Popen(command, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckFailed(f"JupyterLab exited with {server.returncode}; see {work / 'jupyterlab.log'}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise CheckFailed("JupyterLab did not answer within 120 s")


def start_browser(work: Path, logs: bool = False):
    """Headless Chromium driven by chromedriver, its profile in ``work``. With ``logs``, the driver
    keeps the console ("browser") and DevTools network ("performance") logs for ``get_log``
    (scripts/site_check.py reads them)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    chromedriver = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    for path in (chromium, chromedriver):
        if not os.access(path, os.X_OK):
            raise FileNotFoundError(f"{path} not found: install Debian's chromium and chromium-driver "
                                    "(or set CHROMIUM and CHROMEDRIVER)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                     f"--user-data-dir={work / 'chromium'}"]:
        options.add_argument(argument)
    if logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_script_timeout(180)
    return driver


# ----------------------------------------------------------------------------- JupyterLab through its app
# window.jupyterapp is there because JupyterLab runs with expose_app_in_browser.
JS_OPEN = """
const [path, done] = [arguments[0], arguments[arguments.length - 1]];
(async () => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  await panel.sessionContext.ready;
  app.shell.activateById(panel.id);
  return panel.id;
})().then(done, e => done({error: String(e)}));
"""
JS_PANEL = ("const panel = window.jupyterapp.shell.widgets('main')"
            ".find(w => w.context && w.context.path === arguments[0]);")
JS_STATE = JS_PANEL + """
if (!panel) return null;
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const cells = panel.content.widgets.map((c, index) => ({c, index}))
  .filter(x => x.c.model.type === 'code').map(({c, index}) => ({
  index,
  count: c.model.executionCount,
  outputs: c.model.outputs.toJSON(),
  source: c.model.sharedModel.getSource(),
  widgetErrors: (c.node.textContent.match(/Error displaying widget/g) || []).length}));
return {kernel: kernel ? kernel.status : 'none', dirty: panel.context.model.dirty, cells,
        widgetErrors: (panel.node.textContent.match(/Error displaying widget/g) || []).length};
"""
JS_CALL = JS_PANEL + """
const [command, done] = [arguments[1], arguments[arguments.length - 1]];
window.jupyterapp.shell.activateById(panel.id);
(async () => {
  if (command === 'save') { await panel.context.save(); return 'saved'; }
  if (command === 'close') { await panel.context.save(); panel.dispose(); return 'closed'; }
  if (command === 'shutdown') { await panel.sessionContext.shutdown(); return 'shut down'; }
  window.jupyterapp.commands.execute(command);   // not awaited: Run All resolves only when all ran
  return command;
})().then(done, e => done({error: String(e)}));
"""


def wait_for(condition: Callable[[], Any], seconds: float, what: str, every: float = 1.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


class Lab:
    def __init__(self, driver, base: str, token: str, repo: Path, out: Path) -> None:
        self.driver, self.base, self.token, self.repo, self.out = driver, base, token, repo, out
        self.shots: list[str] = []

    def load(self) -> None:
        self.driver.get(f"{self.base}/lab/workspaces/browser-check?reset&token={self.token}")
        wait_for(lambda: self.driver.execute_script(
            "return !!(window.jupyterapp && window.jupyterapp.shell && document.querySelector('#jp-main-dock-panel'))"),
            120, "JupyterLab to load")
        time.sleep(2)

    def open(self, path: str) -> None:
        result = self.driver.execute_async_script(JS_OPEN, path)
        if isinstance(result, dict) and "error" in result:
            raise CheckFailed(f"could not open {path}: {result['error']}")
        wait_for(lambda: (self.state(path) or {}).get("kernel") == "idle", 120, f"the kernel of {path}")

    def state(self, path: str) -> dict | None:
        return self.driver.execute_script(JS_STATE, path)

    def call(self, path: str, command: str) -> None:
        result = self.driver.execute_async_script(JS_CALL, path, command)
        if isinstance(result, dict) and "error" in result:
            raise CheckFailed(f"{command} on {path}: {result['error']}")

    def run_cell(self, path: str, source: str, seconds: float = 60) -> str:
        """Add a cell at the end of the notebook, run it, and return what it printed."""
        self.driver.execute_script(JS_PANEL + """
panel.content.activeCellIndex = panel.content.widgets.length - 1;
window.jupyterapp.commands.execute('notebook:insert-cell-below').then(() => {
  panel.content.activeCell.model.sharedModel.setSource(arguments[1]);
  window.jupyterapp.commands.execute('notebook:run-cell');
});""", path, source)

        def printed():
            cell = self.state(path)["cells"][-1]
            if cell["source"] == source and cell["count"] is not None:
                return "".join(o.get("text", "") or o.get("evalue", "") for o in cell["outputs"]).strip() or "(nothing)"
        return wait_for(printed, seconds, f"the cell {source!r}")

    def screenshot(self, name: str) -> None:
        path = self.out / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.shots.append(path.name)
        print(f"  screenshot: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)


# ----------------------------------------------------------------------------- the checks
def check_opening(lab: Lab, report: Report, path: str) -> None:
    """Open a notebook, let its kernel start and autosave run, and compare the file on disk; then
    save it (a reader's Ctrl+S) and compare again."""
    before = (lab.repo / path).read_bytes()
    lab.open(path)
    time.sleep(3 * AUTOSAVE_SECONDS + 2)
    state = lab.state(path)
    after = (lab.repo / path).read_bytes()
    name = Path(path).stem
    lab.screenshot(f"open_{name}")
    report.check(before == after and not state["dirty"], f"{name}: opening it leaves the file unchanged",
                 "" if before == after else _first_difference(before, after))
    lab.call(path, "save")
    saved = (lab.repo / path).read_bytes()
    report.check(before == saved, f"{name}: saving it unread leaves the file unchanged",
                 "" if before == saved else _first_difference(before, saved))
    errors = [c for c in state["cells"] for o in c["outputs"] if o.get("output_type") == "error"]
    report.check(not errors and state["widgetErrors"] == 0, f"{name}: opens without errors",
                 f"{len(errors)} error outputs, {state['widgetErrors']} widget errors")
    lab.call(path, "shutdown")
    lab.call(path, "close")


def _first_difference(before: bytes, after: bytes) -> str:
    old, new = before.decode(errors="replace").splitlines(), after.decode(errors="replace").splitlines()
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            return f"line {i + 1}: {a.strip()[:80]!r} became {b.strip()[:80]!r}"
    return f"{len(old)} lines became {len(new)}"


def run_all(lab: Lab, report: Report, path: str, timeout: float) -> dict:
    """Run All, as a reader would. A cell that raises stops Run All there: it is reported, and
    the cells below it are run too (Run All Below), so one run finds every problem."""
    lab.open(path)
    lab.call(path, "notebook:run-all-cells")
    start, shot_taken, failed_cells = time.monotonic(), False, []

    def errors_in(state):
        return [(i, o) for i, c in enumerate(state["cells"]) for o in c["outputs"] if o.get("output_type") == "error"]

    def settled():
        nonlocal shot_taken
        state = lab.state(path)
        if not shot_taken and time.monotonic() - start > 40:     # a cell at work, its progress bar
            lab.driver.execute_script("""
const running = [...document.querySelectorAll('.jp-CodeCell')].find(
    c => (c.querySelector('.jp-InputPrompt') || {}).textContent === '[*]:');
if (running) running.scrollIntoView({block: 'start'});""")
            lab.screenshot("run_05_training")
            shot_taken = True
        new_error = any(i not in failed_cells for i, _ in errors_in(state))
        done = state["kernel"] == "idle" and all(c["count"] is not None for c in state["cells"])
        return state if new_error or done else None

    while True:
        time.sleep(5)
        state = wait_for(settled, max(60.0, timeout - (time.monotonic() - start)), f"Run All of {path}", every=3)
        new = [(i, o) for i, o in errors_in(state) if i not in failed_cells]
        if not new:
            break
        i, error = new[0]
        failed_cells.append(i)
        report.check(False, f"{Path(path).stem}: code cell {i} raised {error.get('ename')}",
                     error.get("evalue", "")[:300])
        if i == len(state["cells"]) - 1:
            break
        lab.driver.execute_script(JS_PANEL + """
panel.content.activeCellIndex = arguments[1];
window.jupyterapp.commands.execute('notebook:run-all-below');""", path, state["cells"][i + 1]["index"])
    print(f"  Run All took {time.monotonic() - start:.0f} s", flush=True)
    report.check(not failed_cells, f"{Path(path).stem}: Run All ends without a Python error",
                 f"{len(failed_cells)} cell(s) raised" if failed_cells else "")
    views = sorted({i for i, c in enumerate(state["cells"]) for o in c["outputs"]
                    if WIDGET_VIEW in o.get("data", {}) and "TranslateBox" not in c["source"]})
    report.check(not views, "no cell but the translate box keeps a widget view (progress bars became text)",
                 f"code cells {views}")
    texts = [o["data"]["text/plain"] for c in state["cells"] for o in c["outputs"]
             if o.get("output_type") == "display_data"
             and str(o.get("data", {}).get("text/plain", "")).startswith("training:")]
    print(f"  progress bars left {len(texts)} line(s) of text" + (f", e.g. {texts[0]!r}" if texts else ""))
    return state


JS_BOX = """
const box = [...document.querySelectorAll('.widget-vbox')].find(b => b.querySelector('.widget-text input')
    && [...b.querySelectorAll('button')].some(x => x.textContent.trim() === 'Translate'));
if (!box) return null;
box.scrollIntoView({block: 'start'});
const images = [...box.querySelectorAll('img')].filter(i => getComputedStyle(i).display !== 'none');
const html = box.querySelector('.widget-html-content');
return {text: html ? html.innerText : '', images: images.length, value: box.querySelector('input').value};
"""


def use_translate_box(lab: Lab, report: Report, path: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    wait_for(lambda: lab.driver.execute_script(JS_BOX), 60, "the translate box")
    box_input = lab.driver.find_element(By.CSS_SELECTOR, ".widget-vbox .widget-text input")
    button = [b for b in lab.driver.find_elements(By.CSS_SELECTOR, ".widget-vbox button")
              if b.text.strip() == "Translate"][0]
    for i, (what, text, how, expected) in enumerate(REQUESTS, 1):
        before = lab.driver.execute_script(JS_BOX)["text"]
        if text is not None:
            box_input.click()
            box_input.send_keys(Keys.CONTROL, "a")
            box_input.send_keys(Keys.BACK_SPACE)
            if text:
                box_input.send_keys(text)
        else:
            box_input.click()
        if how == "click":
            button.click()
        else:
            box_input.send_keys(Keys.ENTER)
        try:
            if text is None:    # the same text again: its lines do not change, so give it time
                time.sleep(4)
            else:
                wait_for(lambda: expected in lab.driver.execute_script(JS_BOX)["text"]
                         and lab.driver.execute_script(JS_BOX)["text"] != before, 60, f"the result of: {what}")
        except CheckFailed as error:
            lab.screenshot(f"translate_{i}_{how}_failed")
            kernel_side = lab.run_cell(path, "print(box.renders, repr(box.text.value), repr(box.shown))")
            report.check(False, f"translate box, {what}: {error}", f"renders, text, shown in the kernel: {kernel_side}")
            continue
        time.sleep(2)           # room for a second drawing, if one were coming
        shown = lab.driver.execute_script(JS_BOX)
        maps = 0 if expected.startswith("error") else 1
        report.check(expected in shown["text"] and shown["images"] == maps and shown["text"].count("EN:") <= 1,
                     f"translate box, {what}: one result", f"{shown['images']} map(s); {shown['text']!r}")
        lab.screenshot(f"translate_{i}_{how}")
    # The box's own count of drawings, read in a new cell at the end of the notebook.
    printed = lab.run_cell(path, "print('results drawn:', box.renders)")
    report.check(printed == f"results drawn: {len(REQUESTS)}",
                 f"translate box drew exactly {len(REQUESTS)} results for {len(REQUESTS)} requests", printed)


def check_reopening(lab: Lab, report: Report, path: str) -> None:
    lab.call(path, "close")
    saved = json.loads((lab.repo / path).read_text())
    views = [o for c in saved["cells"] if c["cell_type"] == "code" and "TranslateBox" not in "".join(c["source"])
             for o in c["outputs"] if WIDGET_VIEW in o.get("data", {})]
    report.check(not views, "the saved notebook holds no widget view but the translate box", f"{len(views)} views")
    lab.open(path)
    time.sleep(5)
    state = lab.state(path)
    lab.screenshot("reopen_05")
    report.check(state["widgetErrors"] == 0, f"reopened (kernel still running): no '{WIDGET_ERROR}'",
                 f"{state['widgetErrors']} errors")
    # Now as a reader who comes back another day: the kernel is gone. An open widget's view then
    # has no model (ipywidgets' way); closed ones (the progress bars) must have left only text.
    lab.call(path, "shutdown")
    lab.call(path, "close")
    lab.open(path)
    time.sleep(5)
    state = lab.state(path)
    lab.screenshot("reopen_05_new_kernel")
    dead = [i for i, c in enumerate(state["cells"]) if c["widgetErrors"] and "TranslateBox" not in c["source"]]
    box = sum(c["widgetErrors"] for c in state["cells"] if "TranslateBox" in c["source"])
    report.check(not dead, f"reopened with a new kernel: no '{WIDGET_ERROR}' but the open translate box's",
                 f"code cells {dead}; the translate box's cell: {box}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "browser", help="screenshot folder")
    parser.add_argument("--timeout", type=float, default=1500, help="seconds for Run All of notebook 05")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (its path is printed)")
    parser.add_argument("--open-only", action="store_true", help="only open every notebook (a quick check)")
    args = parser.parse_args()
    try:
        import selenium  # noqa: F401
    except ImportError:
        print("browser check cannot run: selenium is not installed (pip install -r requirements-dev.txt)")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.png"):
        old.unlink()
    work = Path(tempfile.mkdtemp(prefix="browser-check-"))
    report, server, driver = Report(), None, None
    started = time.monotonic()
    try:
        repo = copy_repository(work)
        write_settings(work / "settings")
        port, token = free_port(), os.urandom(16).hex()
        server = start_lab(repo, work, port, token)
        try:
            driver = start_browser(work)
        except FileNotFoundError as error:
            print(f"browser check cannot run: {error}")
            return 2
        lab = Lab(driver, f"http://127.0.0.1:{port}", token, repo, args.out)
        print(f"JupyterLab on 127.0.0.1:{port}, a copy of the repository in {work}", flush=True)
        lab.load()
        lab.screenshot("lab")
        notebooks = sorted(p.relative_to(repo).as_posix() for p in (repo / "notebooks").glob("*.ipynb"))
        for path in notebooks:
            check_opening(lab, report, path)
        run_path = f"notebooks/{NOTEBOOK_TO_RUN}"
        if not args.open_only:
            run_all(lab, report, run_path, args.timeout)
            use_translate_box(lab, report, run_path)
            check_reopening(lab, report, run_path)
    except Exception as error:      # a failed wait, or the browser or JupyterLab giving up
        report.check(False, str(error) if isinstance(error, CheckFailed) else f"{type(error).__name__}: {error}")
        if driver is not None:
            Lab(driver, "", "", work, args.out).screenshot("failure")
    finally:
        if driver is not None:
            driver.quit()
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"browser check took {time.monotonic() - started:.0f} s")
    print(f"browser-check: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
