"""The header every notebook shares: a Colab badge, the setup cell and the kernelspec.

The repository URL lives here and only here (``REPO_URL``). `python scripts/notebook_header.py`
stamps the badge (cell 0), the setup cell (the first code cell) and the kernelspec metadata into
every notebook, and the Colab links into README.md; `--url URL` first writes a new URL into this
file (publishing a copy under another name); `--check` only reports what differs
(tests/test_notebooks_hygiene.py runs it). The website (scripts/build_site.py) takes its launch
links from here too (`colab_url`, `github_url`), so `--url` moves them with the badges.

The kernelspec is the one JupyterLab writes for the default kernel ("Python 3 (ipykernel)"):
with any other display name, merely opening a notebook makes JupyterLab rewrite it on its next
autosave, and `git status` shows a change nobody made.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

REPO_URL = "https://github.com/seq2seq-attention/seq2seq-attention-notebooks"
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/main/notebooks/")

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
BADGE_PREFIX = "[![Open In Colab]"
SETUP_PREFIX = "# Setup:"

def setup_source() -> str:
    """The setup cell, with the current ``REPO_URL``."""
    return SETUP_TEMPLATE.replace("{REPO_URL}", REPO_URL)


SETUP_TEMPLATE = f'''{SETUP_PREFIX} makes `utils` importable in JupyterLab or Colab (the same cell in every notebook)
import os
import subprocess
import sys
from pathlib import Path

root = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "utils" / "__init__.py").exists()), None)
if root is None and ("google.colab" in sys.modules or os.environ.get("SEQ2SEQ_FORCE_COLAB") == "1"):
    root = Path.cwd() / "seq2seq-attention-notebooks"
    if not root.exists():
        url = os.environ.get("SEQ2SEQ_REPO_URL", "{{REPO_URL}}")
        subprocess.run(["git", "clone", "--depth", "1", url, str(root)], check=True)
    for package in ("sacrebleu", "sentencepiece"):  # what the series needs beyond Colab's usual packages
        try:
            __import__(package)
        except ImportError:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)
if root is None:
    raise RuntimeError("cannot find the series' `utils` package: open this notebook from the "
                       "repository's notebooks/ folder (see README.md)")
sys.path.insert(0, str(root))'''


def colab_prefix() -> str:
    """Where Colab opens this repository's notebooks from."""
    owner_repo = REPO_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/main/notebooks/"


def colab_url(name: str) -> str:
    """Where Colab opens notebook ``name`` (the badge's link, and the site's launch link)."""
    return f"{colab_prefix()}{name}"


def github_url(name: str) -> str:
    """Notebook ``name`` on GitHub (the site's "view the source" link)."""
    return f"{REPO_URL}/blob/main/notebooks/{name}"


def badge_source(name: str) -> str:
    return f"{BADGE_PREFIX}(https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(name)})"


def expected_header(name: str) -> tuple[str, str]:
    return badge_source(name), setup_source()


def set_repo_url(url: str) -> None:
    """Write ``url`` into this file as ``REPO_URL`` (the one place it lives) and use it from now on."""
    global REPO_URL
    if not re.fullmatch(r"https://github\.com/[^/\s]+/[^/\s]+", url):
        raise SystemExit(f"--url must look like https://github.com/OWNER/REPO, got {url!r}")
    path = Path(__file__)
    path.write_text(re.sub(r'^REPO_URL = ".*"$', f'REPO_URL = "{url}"', path.read_text(), count=1, flags=re.M))
    REPO_URL = url


def readme_problems(path: Path = README) -> list[str]:
    links = set(COLAB_LINK.findall(path.read_text())) if path.exists() else set()
    return [f"README.md: Colab link {link} is not {colab_prefix()}" for link in sorted(links - {colab_prefix()})]


def stamp_readme(path: Path = README) -> bool:
    if not path.exists():
        return False
    text = path.read_text()
    new = COLAB_LINK.sub(colab_prefix(), text)
    if new != text:
        path.write_text(new)
    return new != text


def header_problems(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    badge, setup = expected_header(path.name)
    problems = []
    if not nb.cells or nb.cells[0].cell_type != "markdown" or nb.cells[0].source != badge:
        problems.append("cell 0 is not the Colab badge for this notebook")
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or code[0].source != setup:
        problems.append("the first code cell is not the shared setup cell")
    if dict(nb.metadata.get("kernelspec", {})) != KERNELSPEC:
        problems.append(f"the kernelspec is not {KERNELSPEC} (what JupyterLab writes on save)")
    return problems


def stamp(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    badge, setup = expected_header(path.name)
    changed = False
    if nb.cells and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(BADGE_PREFIX):
        if nb.cells[0].source != badge:
            nb.cells[0].source, changed = badge, True
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(badge))
        changed = True
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    if first_code is not None and nb.cells[first_code].source.startswith(SETUP_PREFIX):
        if nb.cells[first_code].source != setup:
            nb.cells[first_code].source, changed = setup, True
    else:
        at = first_code if first_code is not None else len(nb.cells)
        nb.cells.insert(at, nbformat.v4.new_code_cell(setup))
        changed = True
    if dict(nb.metadata.get("kernelspec", {})) != KERNELSPEC:
        nb.metadata["kernelspec"], changed = dict(KERNELSPEC), True
    if changed:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences, change nothing")
    parser.add_argument("--url", help="publish under this GitHub URL: write it into this script, then stamp")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.url and args.check:
        parser.error("--url changes files; --check changes none")
    if args.url:
        set_repo_url(args.url.rstrip("/"))
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    failed = False
    for path in paths:
        if args.check:
            for problem in header_problems(path):
                print(f"{path.name}: {problem}")
                failed = True
        elif stamp(path):
            print(f"stamped {path.name}")
    if args.check:
        for problem in readme_problems():
            print(problem)
            failed = True
    elif not args.notebooks and stamp_readme():
        print("stamped README.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
