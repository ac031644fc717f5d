"""Build the series as a static website in build/site/, offline, from the committed notebooks.

    python scripts/build_site.py [--out build/site]

Nothing is executed: the pages show the outputs the notebooks were committed with (the ones nbval
checks). The script lays out Sphinx sources in build/site-src/ and runs Sphinx (myst-nb, the
sphinx-book-theme; configuration in site/conf.py) on them:

- the landing page is README.md, with its Colab badges drawn from a local image (a page may load
  nothing from outside the site) and a section "What you will have built": the sentence notebook 06
  translates and its attention map, both taken from that notebook's committed output;
- MAINTAINING.md, when there is one, as a page of its own that the landing page links to (out of
  the series' previous/next sequence, which ends with the last notebook);
- one page per notebooks/*.ipynb, in sorted order (a new notebook appears by itself), each with
  launch links under its title: Colab, GitHub and "report a problem" (a new issue) from
  scripts/notebook_header.py (the same ``REPO_URL`` as the badges, so `notebook_header.py --url`
  moves them too) and the .ipynb itself to download, which the site serves beside the page;
- in the code cells as the pages show them, the lines meant for tools, not readers, are left out:
  nbval's markers (``# NBVAL_CHECK_OUTPUT``), ``# README figure: PATH`` and ``# alt: TEXT``
  (the notebooks themselves keep them);
- every figure a notebook drew gets alt text (``figure_alt_texts``): the cell's own ``# alt: TEXT``
  lines, one per figure in order, the way a notebook author describes a figure; without one, the
  figure's title as the cell writes it and the paragraph before the cell;
- MathJax from the PyPI package sphinx-mathjax-offline, copied into the site (no CDN).

Needs the packages in requirements-site.txt (`make site` installs them).
"""
from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebook_header  # noqa: E402  (REPO_URL, colab_url, github_url: one source for every link)

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "build" / "site-src"
CONF = ROOT / "site"
NOTEBOOKS = ROOT / "notebooks"
MAINTAINING = ROOT / "MAINTAINING.md"
# The landing page's picture of where the series ends: the code cell of this notebook whose source
# contains this text, its first printed line ("source → translation") and its image output.
FINAL_RESULT = ("06_real_french_english.ipynb", "show_translation(EXAMPLES[LANGUAGE])")
# Lines of a code cell the site leaves out: nbval's markers (# NBVAL_CHECK_OUTPUT, ...), the
# marker of the plot the README shows, and the alt text of the cell's figures (it goes to the image).
# A figure's alt text may go on over the next comment lines, indented ("#   more words"), to keep
# within ruff's 120 characters.
HIDDEN_LINE = re.compile(r"^[ \t]*# ?(NBVAL_[A-Z_]+|README figure:.*|alt:.*)[ \t]*$")
ALT_LINE = re.compile(r"^[ \t]*# ?alt:[ \t]*(.*?)[ \t]*$")
ALT_MORE = re.compile(r"^[ \t]*#[ \t]{2,}(\S.*?)[ \t]*$")
# Where scripts/build_site.py leaves the figures' alt texts for site/conf.py ({image file stem: alt}).
ALT_TEXTS = "_alt_texts.json"
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


def issue_url(name: str) -> str:
    """A new issue on the series' repository, its title naming the notebook."""
    return f"{notebook_header.REPO_URL}/issues/new?title={quote(Path(name).stem + ': ')}"


def maintainer_page(text: str) -> str:
    """MAINTAINING.md as a page of the site: outside the table of contents (an orphan: the notebooks'
    previous/next sequence does not run into it), its link to README.md leading to the landing page."""
    return "---\norphan: true\n---\n" + text.replace("](README.md)", "](index.md)")


def launch_links(name: str) -> str:
    """The links under a notebook page's title: run it in Colab, download it, read it on GitHub,
    report a problem with it."""
    return (f'<p class="launch-links">{badge_html(notebook_header.colab_url(name), "../_static")}\n'
            f'<a class="reference download" href="{name}" download>Download {name}</a> ·\n'
            f'<a href="{html.escape(notebook_header.github_url(name))}">View on GitHub</a> ·\n'
            f'<a class="report-issue" href="{html.escape(issue_url(name))}">Report a problem</a></p>')


def tool_lines(source: str) -> tuple[list[str], list[str]]:
    """(the lines of a code cell a reader sees, its figures' alt texts): the lines meant for tools
    (HIDDEN_LINE, and the indented comment lines that go on with an ``# alt:`` line) are left out,
    and each ``# alt:`` line with its continuation is one alt text."""
    shown, alts, in_alt = [], [], False
    for line in source.split("\n"):
        alt = ALT_LINE.match(line)
        if alt:
            alts.append(alt.group(1))
        elif in_alt and ALT_MORE.match(line):
            alts[-1] = f"{alts[-1]} {ALT_MORE.match(line).group(1)}".strip()
            continue
        in_alt = bool(alt)
        if not HIDDEN_LINE.match(line):
            shown.append(line)
    return shown, [a for a in alts if a]


def shown_source(source: str) -> str:
    """A code cell's source as the site shows it: without the lines meant for tools."""
    return "\n".join(tool_lines(source)[0])


def plain(markdown: str) -> str:
    """Markdown as the words a screen reader should say: no links' addresses, no emphasis marks,
    no backticks, no HTML tags (``<unk>`` in code stays), one line."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"(`[^`]*`)|<[^>]+>", lambda m: m.group(1) or "", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r"^#+\s*", "", text, flags=re.M)
    return " ".join(text.split())


def _text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's, or a sum of strings', with "…" for each field or
    term that is not a literal; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        if left is not None or right is not None:
            return (left or "…") + (right or "…")
    return None


def figure_titles(source: str) -> list[str]:
    """The titles a code cell gives its plots, as written: ``title=`` arguments, ``.set_title(…)``
    and ``.suptitle(…)``, in order, one line each. Titles that are mostly f-string fields
    (fewer than two words of their own) say nothing and are left out."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        values = [k.value for k in node.keywords if k.arg == "title"]
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("set_title", "suptitle") and node.args:
            values.append(node.args[0])
        for value in values:
            text = _text(value)
            if text is not None and len(re.findall(r"[^\W\d_]{2,}", text.replace("…", " "))) >= 2:
                found.append((value.lineno, value.col_offset, " ".join(text.split())))
    return list(dict.fromkeys(text for *_, text in sorted(found)))


def last_paragraph(markdown: str, limit: int = 300) -> str:
    """The last paragraph of a markdown cell (headings, code and math blocks skipped), in plain
    words, cut at a sentence's end within ``limit`` characters where it is longer."""
    blocks = [b for b in re.split(r"\n\s*\n", markdown.strip()) if b.strip()]
    prose = [b for b in blocks if not b.lstrip().startswith(("#", "```", "$$", "|", "<"))]
    text = plain((prose or blocks or [""])[-1])
    if len(text) > limit:
        ends = [m.end() for m in re.finditer(r"[.!?](\s|$)", text[:limit])]
        text = text[:ends[-1]].strip() if ends else text[:limit].rsplit(" ", 1)[0] + " …"
    return text


def figure_alt_texts(nb: nbformat.NotebookNode) -> dict[str, str]:
    """{image file stem: alt text} for every PNG a code cell of ``nb`` drew.

    myst-nb names an output image by the SHA-256 of its bytes; site/conf.py gives the image on the
    page its alt text by that name. The alt text of a cell's figures, first found:

    1. the cell's ``# alt: TEXT`` lines, the i-th for the i-th figure (the last one for any more),
       each with the indented comment lines that follow it (``#   more text``);
    2. "Figure: " and the titles the cell writes (``title="…"``, ``.set_title("…")``,
       ``.suptitle("…")``; an f-string's fields as "…");
    3. without titles, "Figure: " and the last paragraph of the markdown before the cell.
    """
    texts, before = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            before = cell.source
            continue
        if cell.cell_type != "code":
            continue
        images = [o.data["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if not images:
            continue
        written = tool_lines(cell.source)[1]
        titles = figure_titles(cell.source)
        derived = "Figure: " + ("; ".join(titles) if titles else last_paragraph(before).rstrip(":"))
        for i, image in enumerate(images):
            digest = hashlib.sha256(base64.b64decode(image)).hexdigest()
            texts[digest] = written[min(i, len(written) - 1)] if written else derived
    return texts


def site_notebook(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The notebook as its page shows it: the Colab badge cell (its image is on colab's server)
    gives way to the launch links, placed under the title (the first markdown heading); code cells
    lose the lines meant for tools (``shown_source``) and are tagged ``full-width``, which the book
    theme lets use the right margin's width on wide screens (site/_static/site.css)."""
    nb = nbformat.from_dict(nb)     # a copy
    if nb.cells and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(notebook_header.BADGE_PREFIX):
        nb.cells.pop(0)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = shown_source(cell.source)
            tags = cell.metadata.setdefault("tags", [])
            if "full-width" not in tags:
                tags.append("full-width")
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


# A printed output on a page (myst-nb: a highlighted block inside div.output), and a ✓ (or ✗) line
# of a checked claim in it (the first line comes after Pygments' empty <span></span>).
OUTPUT_PRE = re.compile(r'(<div class="output [^"]*"><div class="highlight"><pre>)(.*?)(</pre>)', re.S)
CLAIM = re.compile(r"^((?:<span></span>)?)([ \t]*[✓✗] .*)$", re.M)


def mark_claims(body: str) -> str:
    """The page's HTML with each claim line of a printed output in <span class="claim">: outputs
    keep their layout and scroll sideways (tables, printed source), claim lines wrap (site.css)."""
    def mark(m: re.Match) -> str:
        return m.group(1) + CLAIM.sub(r'\1<span class="claim">\2</span>', m.group(2)) + m.group(3)
    return OUTPUT_PRE.sub(mark, body)


def stage(src: Path = SRC) -> list[str]:
    """Lay out the Sphinx sources in ``src``; returns the notebook names, in series order."""
    if src.exists():
        shutil.rmtree(src)
    extra = src / "_extra"      # copied as they are into the site (html_extra_path in site/conf.py)
    (src / "notebooks").mkdir(parents=True)
    (extra / "notebooks").mkdir(parents=True)
    (src / "images").mkdir()
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    alt_texts = {}
    for name in names:
        shutil.copy2(NOTEBOOKS / name, extra / "notebooks" / name)         # the download link's file
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        alt_texts.update(figure_alt_texts(nb))
        nbformat.write(site_notebook(nb, name), src / "notebooks" / name)
    (src / ALT_TEXTS).write_text(json.dumps(alt_texts, ensure_ascii=False, indent=0), encoding="utf-8")
    if (NOTEBOOKS / "figures").is_dir():                                    # the README's <img> tags
        shutil.copytree(NOTEBOOKS / "figures", extra / "notebooks" / "figures")
    image, line = final_result(NOTEBOOKS / FINAL_RESULT[0], FINAL_RESULT[1])
    (src / "images" / "final_translation.png").write_bytes(image)
    source, _, output = (part.strip() for part in line.partition("→"))
    caption = f"*{source}* → *{output}*"
    landing = landing_page((ROOT / "README.md").read_text(), "images/final_translation.png", caption)
    (src / "index.md").write_text(landing)
    if MAINTAINING.is_file():
        (src / MAINTAINING.name).write_text(maintainer_page(MAINTAINING.read_text()))
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    args = parser.parse_args(argv)
    out = args.out.resolve()        # --out build/x is relative to where the command runs
    if out.is_dir() and any(out.iterdir()) and not (out / ".buildinfo").is_file():
        raise SystemExit(f"--out {args.out}: the folder holds files but no site Sphinx built (no .buildinfo); "
                         "it is emptied before each build, so name a new folder or a site's")
    started = time.monotonic()
    names = stage()
    if out.exists():
        shutil.rmtree(out)          # no page of a renamed or deleted notebook stays behind
    # -W: a warning (a missing image, a broken cross-reference, a bad heading) fails the build.
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF),
               "-d", str(ROOT / "build" / "site-doctrees"),
               "-E", "-W", "--keep-going", "-q", str(SRC), str(out)]
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode:
        print(f"sphinx-build failed ({result.returncode}): {' '.join(command)}")
        return result.returncode
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    where = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"site: {len(names)} notebook pages + the landing page in {where}/ "
          f"({size / 2**20:.1f} MiB), built in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
