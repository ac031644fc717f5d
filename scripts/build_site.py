"""Build the series as a static website in build/site/, offline, from the committed notebooks.

    python scripts/build_site.py [--out build/site]

Nothing is executed: the pages show the outputs the notebooks were committed with (the ones nbval
checks). The script lays out Sphinx sources in build/site-src/ and runs Sphinx (myst-nb, the
sphinx-book-theme; configuration in site/conf.py) on them:

- the landing page is README.md, with its Colab badges drawn from a local image (a page may load
  nothing from outside the site) and a section "What you will have built": the sentence notebook 06
  translates and its attention map, both taken from that notebook's committed output;
- one page per notebooks/*.ipynb, in sorted order (a new notebook appears by itself), each with
  launch links under its title: Colab and GitHub from scripts/notebook_header.py (the same
  ``REPO_URL`` as the badges, so `notebook_header.py --url` moves them too) and the .ipynb itself
  to download, which the site serves beside the page;
- MathJax from the PyPI package sphinx-mathjax-offline, copied into the site (no CDN).

Needs the packages in requirements-site.txt (`make site` installs them).
"""
from __future__ import annotations

import argparse
import base64
import html
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebook_header  # noqa: E402  (REPO_URL, colab_url, github_url: one source for every link)

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "build" / "site-src"
CONF = ROOT / "site"
NOTEBOOKS = ROOT / "notebooks"
# The landing page's picture of where the series ends: the code cell of this notebook whose source
# contains this text, its first printed line ("source → translation") and its image output.
FINAL_RESULT = ("06_real_french_english.ipynb", "show_translation(EXAMPLES[LANGUAGE])")
COLAB_BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\(([^)\s]+)\)")


def badge_html(url: str, static: str) -> str:
    """An "Open in Colab" badge drawn from the site's own copy of the image."""
    return f'<a href="{html.escape(url)}"><img src="{static}/colab-badge.svg" alt="Open In Colab"></a>'


def landing_page(readme: str, final_image: str, final_caption: str) -> str:
    """README.md as the site's index page (MyST Markdown).

    Its relative links to notebooks/*.ipynb stay as they are (MyST resolves them to the notebook
    pages); the Colab badges point at the local image; "What you will have built" goes before
    "## Quick start"; a hidden table of contents lists the notebooks in sorted order, which gives
    the sidebar and the previous/next links.
    """
    page = COLAB_BADGE.sub(lambda m: badge_html(m.group(1), "_static"), readme)
    final = ("## What you will have built\n\n"
             "By notebook 06 you will have trained, on a laptop CPU, a model that translates real\n"
             "French sentences and shows where it looked for each English word:\n\n"
             f"```{{figure}} {final_image}\n:alt: {final_caption}\n:align: center\n\n"
             f"{final_caption} Notebook 06's greedy translation and its attention map, as the "
             "notebook printed and drew them.\n```\n\n")
    if "\n## Quick start" not in page:
        raise SystemExit("README.md has no '## Quick start' section to put 'What you will have built' before")
    page = page.replace("\n## Quick start", "\n" + final + "## Quick start", 1)
    toc = "\n```{toctree}\n:hidden:\n:glob:\n:caption: The notebooks\n\nnotebooks/*\n```\n"
    return page + toc


def launch_links(name: str) -> str:
    """The links under a notebook page's title: run it in Colab, download it, read it on GitHub."""
    return (f'<p class="launch-links">{badge_html(notebook_header.colab_url(name), "../_static")}\n'
            f'<a class="reference download" href="{name}" download>Download {name}</a> ·\n'
            f'<a href="{html.escape(notebook_header.github_url(name))}">View on GitHub</a></p>')


def site_notebook(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The notebook as its page shows it: the Colab badge cell (its image is on colab's server)
    gives way to the launch links, placed under the title (the first markdown heading)."""
    nb = nbformat.from_dict(nb)     # a copy
    if nb.cells and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(notebook_header.BADGE_PREFIX):
        nb.cells.pop(0)
    links = launch_links(name)
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "markdown" and first.source.startswith("# "):
        title, _, rest = first.source.partition("\n")
        first.source = f"{title}\n\n{links}\n{rest}"
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(links))
    return nb


def final_result(path: Path, marker: str) -> tuple[bytes, str]:
    """(PNG bytes, first printed line) of the code cell of ``path`` whose source contains ``marker``."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and marker in cell.source:
            images = [o.data["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]
            lines = [line for o in cell.outputs if o.output_type == "stream" for line in o.text.splitlines()
                     if "→" in line]
            if not images or not lines:
                raise SystemExit(f"{path.name}: the cell with {marker!r} has no committed image or no "
                                 "'source → translation' line: execute the notebook (make execute)")
            return base64.b64decode(images[-1]), lines[0].strip()
    raise SystemExit(f"{path.name}: no code cell contains {marker!r} (FINAL_RESULT in {Path(__file__).name})")


def stage(src: Path = SRC) -> list[str]:
    """Lay out the Sphinx sources in ``src``; returns the notebook names, in series order."""
    if src.exists():
        shutil.rmtree(src)
    extra = src / "_extra"      # copied as they are into the site (html_extra_path in site/conf.py)
    (src / "notebooks").mkdir(parents=True)
    (extra / "notebooks").mkdir(parents=True)
    (src / "images").mkdir()
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for name in names:
        shutil.copy2(NOTEBOOKS / name, extra / "notebooks" / name)         # the download link's file
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.write(site_notebook(nb, name), src / "notebooks" / name)
    if (NOTEBOOKS / "figures").is_dir():                                    # the README's <img> tags
        shutil.copytree(NOTEBOOKS / "figures", extra / "notebooks" / "figures")
    image, line = final_result(NOTEBOOKS / FINAL_RESULT[0], FINAL_RESULT[1])
    (src / "images" / "final_translation.png").write_bytes(image)
    source, _, output = (part.strip() for part in line.partition("→"))
    caption = f"*{source}* → *{output}*"
    landing = landing_page((ROOT / "README.md").read_text(), "images/final_translation.png", caption)
    (src / "index.md").write_text(landing)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    args = parser.parse_args(argv)
    started = time.monotonic()
    names = stage()
    if args.out.exists():
        shutil.rmtree(args.out)     # no page of a renamed or deleted notebook stays behind
    # -W: a warning (a missing image, a broken cross-reference, a bad heading) fails the build.
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF),
               "-d", str(ROOT / "build" / "site-doctrees"),
               "-E", "-W", "--keep-going", "-q", str(SRC), str(args.out)]
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode:
        print(f"sphinx-build failed ({result.returncode}): {' '.join(command)}")
        return result.returncode
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"site: {len(names)} notebook pages + the landing page in {args.out.relative_to(ROOT)}/ "
          f"({size / 2**20:.1f} MiB), built in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
