"""The website's pure-Python parts: the link check over built HTML (scripts/site_check.py) and the
sources scripts/build_site.py lays out (landing page, notebook pages, the final result). Building
the site and opening it in a browser are `make site` and `make site-check` (.ci/run runs both)."""
import base64
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402
import notebook_header  # noqa: E402
from site_check import alt_text_problems, launch_link_problems, link_problems, series_order_problems  # noqa: E402


def write(site: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    return site


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


GOOD = {
    "index.html": page('<a href="notebooks/one.html#results">results</a> <img src="_images/plot.png">'
                       '<a href="https://arxiv.org/abs/1409.0473">the paper</a> <a href="#top" id="top">top</a>',
                       '<link rel="stylesheet" href="_static/site.css">'
                       '<script src="_static/mathjax/tex-chtml.js"></script>'
                       '<link rel="canonical" href="https://example.org/">'),
    "notebooks/one.html": page('<section id="results"><a href="../index.html">home</a> <a href="one.ipynb" download>'
                               '.ipynb</a> <a href="./">folder</a></section>'),
    "notebooks/index.html": page("a folder's index"),
    "notebooks/one.ipynb": "{}",
    "_images/plot.png": "png",
    "_static/site.css": "",
    "_static/mathjax/tex-chtml.js": "",
}


def test_a_site_whose_links_all_resolve_passes(tmp_path):
    assert link_problems(write(tmp_path, GOOD)) == []


def test_the_link_check_catches_a_broken_internal_link_and_a_missing_anchor(tmp_path):
    site = write(tmp_path, {**GOOD, "index.html": page('<a href="notebooks/two.html">02</a>'
                                                       '<a href="notebooks/one.html#nowhere">a section</a>')})
    assert link_problems(site) == [
        "index.html: <a> notebooks/two.html: no such file notebooks/two.html",
        "index.html: <a> notebooks/one.html#nowhere: no id 'nowhere' in notebooks/one.html",
    ]


def test_the_link_check_catches_whatever_loads_from_outside_the_site(tmp_path):
    loads = ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>'
             '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Lato">')
    body = ('<img src="https://colab.research.google.com/assets/colab-badge.svg">'
            '<a href="https://colab.research.google.com/github/o/r/blob/main/notebooks/one.ipynb">Colab</a>')
    site = write(tmp_path, {**GOOD, "index.html": page(body, loads)})
    assert link_problems(site) == [
        "index.html: <script> loads https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js from outside the site",
        "index.html: <link> loads //fonts.googleapis.com/css?family=Lato from outside the site",
        "index.html: <img> loads https://colab.research.google.com/assets/colab-badge.svg from outside the site",
    ]


def test_the_link_check_leaves_out_the_themes_macro_files_and_links_leaving_the_site(tmp_path):
    site = write(tmp_path, {**GOOD, "_static/webpack-macros.html": page('<script src="{{ pathto(x) }}"></script>'),
                            "notebooks/one.html": page('<a id="results" href="../../elsewhere.html">up</a>')})
    assert link_problems(site) == ["notebooks/one.html: <a> ../../elsewhere.html: no such file elsewhere.html"]


def test_series_order_follows_the_next_links(tmp_path):
    nav = '<a class="right-next" href="{}">next</a>'
    site = write(tmp_path, {"index.html": page(nav.format("notebooks/01_a.html")),
                            "notebooks/01_a.html": page(nav.format("02_b.html")),
                            "notebooks/02_b.html": page("the end")})
    assert series_order_problems(site, ["01_a.ipynb", "02_b.ipynb"]) == []
    write(site, {"notebooks/01_a.html": page(nav.format("../index.html"))})
    assert series_order_problems(site, ["01_a.ipynb", "02_b.ipynb"]) == [
        "notebooks/01_a.html: 'next' leads to ['index.html'], not notebooks/02_b.html"]


def test_launch_links_must_be_notebook_headers_colab_url_and_the_ipynb(tmp_path):
    name = "01_a.ipynb"
    good = page(f'<a href="{notebook_header.colab_url(name)}">Colab</a><a href="{name}" download>.ipynb</a>'
                f'<a href="{build_site.issue_url(name)}">Report a problem</a>')
    site = write(tmp_path, {"notebooks/01_a.html": good})
    assert launch_link_problems(site, [name]) == []
    write(site, {"notebooks/01_a.html": page('<a href="https://colab.research.google.com/github/old/name/blob/main/'
                                             'notebooks/01_a.ipynb">Colab</a>')})
    assert len(launch_link_problems(site, [name])) == 3


# ----------------------------------------------------------------------------- the sources
def test_landing_page_is_the_readme_with_local_badges_the_final_result_and_the_notebooks():
    readme = (ROOT / "README.md").read_text()
    landing = build_site.landing_page(readme, "images/final.png", "*a* → *b*")
    assert "colab.research.google.com/assets" not in landing, "the badge image must come from the site"
    assert landing.count('src="_static/colab-badge.svg"') == readme.count("colab-badge.svg")
    assert notebook_header.colab_url("01_seq2seq_and_the_bottleneck.ipynb") in landing
    assert "](notebooks/02_attention.ipynb)" in landing, "README's links to the notebooks stay, MyST resolves them"
    assert landing.index("## What you will have built") < landing.index("## Quick start")
    assert "{figure} images/final.png" in landing
    assert landing.rstrip().endswith("notebooks/*\n```")
    with pytest.raises(SystemExit, match="Quick start"):
        build_site.landing_page("# A README without the section\n", "x.png", "x")


def test_a_notebook_page_has_launch_links_under_its_title_and_no_external_badge():
    name = "02_attention.ipynb"
    original = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    before = nbformat.writes(original)
    shown = build_site.site_notebook(original, name)
    assert nbformat.writes(original) == before, "the committed notebook is not changed"
    assert len(shown.cells) == len(original.cells) - 1
    title, _, rest = shown.cells[0].source.partition("\n")
    assert title == original.cells[1].source.partition("\n")[0] and title.startswith("# 02")
    assert rest.lstrip().startswith('<p class="launch-links">')
    for url in (notebook_header.colab_url(name), notebook_header.github_url(name)):
        assert f'href="{url}"' in rest
    assert f'href="{name}" download' in rest
    assert "colab.research.google.com/assets" not in "".join(c.source for c in shown.cells if c.cell_type == "markdown")


def test_a_notebook_without_a_title_gets_its_launch_links_first():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    shown = build_site.site_notebook(nb, "09_x.ipynb")
    assert shown.cells[0].cell_type == "markdown" and "launch-links" in shown.cells[0].source


def test_the_maintainers_page_stays_out_of_the_series_sequence_and_links_home():
    shown = build_site.maintainer_page("# Maintaining\n\nThe learner's side is [README.md](README.md).\n")
    assert shown.startswith("---\norphan: true\n---\n# Maintaining")
    assert "[README.md](index.md)" in shown


def test_the_final_result_comes_from_notebook_06s_committed_output():
    image, line = build_site.final_result(ROOT / "notebooks" / build_site.FINAL_RESULT[0], build_site.FINAL_RESULT[1])
    assert image.startswith(b"\x89PNG") and "→" in line
    with pytest.raises(SystemExit, match="no code cell"):
        build_site.final_result(ROOT / "notebooks" / build_site.FINAL_RESULT[0], "no cell has this")


def test_the_alt_text_check_catches_a_hash_an_empty_and_a_missing_alt(tmp_path):
    digest = "3f" * 32
    image = f"../_images/{digest}.png"
    site = write(tmp_path, {"index.html": page('<img src="_images/a.png" alt="Figure: BLEU by source length">'),
                            "notebooks/one.html": page(f'<img src="{image}" alt="{digest}">'
                                                       f'<img src="{image}" alt="{image}">'
                                                       '<img src="../_images/b.png" alt="">'
                                                       '<img src="../_images/c.png">'
                                                       '<img src="../_images/d.png" alt="d.png">')})
    assert alt_text_problems(site) == [
        f"notebooks/one.html: <img src='../_images/{digest}.png'> has alt text '{digest}'",
        f"notebooks/one.html: <img src='../_images/{digest}.png'> has alt text '../_images/{digest}.png'",
        "notebooks/one.html: <img src='../_images/b.png'> has alt text ''",
        "notebooks/one.html: <img src='../_images/c.png'> has alt text None",
        "notebooks/one.html: <img src='../_images/d.png'> has alt text 'd.png'",
    ]


def test_a_notebook_page_must_link_to_a_new_issue():
    links = build_site.launch_links("01_a.ipynb")
    assert f'href="{notebook_header.REPO_URL}/issues/new?title=01_a%3A%20"' in links
    assert "Report a problem" in links


# ----------------------------------------------------------------------------- what the pages show
def test_the_lines_meant_for_tools_are_left_out_of_the_code_shown():
    source = ("# NBVAL_CHECK_OUTPUT\n# README figure: notebooks/figures/x.png  (copied)\nx = 1\n"
              "  # alt: a line plot of x\n  #   against y\n# a comment that stays\n"
              "print(x)  # alt: stays, not a line of its own\n# NBVAL_SKIP")
    assert build_site.shown_source(source) == ("x = 1\n# a comment that stays\n"
                                               "print(x)  # alt: stays, not a line of its own")


def test_a_notebook_page_hides_the_nbval_markers_and_gives_code_cells_the_full_width():
    name = "02_attention.ipynb"
    original = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    shown = build_site.site_notebook(original, name)
    code = [c for c in shown.cells if c.cell_type == "code"]
    assert not any("NBVAL_" in c.source or "# README figure:" in c.source for c in code)
    assert all("full-width" in c.metadata["tags"] for c in code)
    assert any("NBVAL_" in c.source for c in original.cells), "the committed notebook keeps its markers"


def png(seed: int) -> str:
    return base64.b64encode(b"\x89PNG" + bytes([seed]) * 8).decode()


def image_cell(source: str, *seeds: int) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png(s)}) for s in seeds]
    return cell


def digest(seed: int) -> str:
    return hashlib.sha256(base64.b64decode(png(seed))).hexdigest()


def test_figure_alt_texts_come_from_alt_lines_then_titles_then_the_paragraph_before():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## 1. Curves\n\nFirst paragraph.\n\nThe **loss** of every "
                                      "[batch](https://x.org), as `fit` records it:"),
        image_cell("# alt: Loss against step,\n#      falling\n#   and flat\n# alt: BLEU against length\n"
                   "# not a continuation: one space only\nplot()", 1, 2, 3),
        image_cell('ax.set(xlabel="x", title="BLEU by source length: " + name)\n'
                   'fig.suptitle(f"Trained {side} self-attention, every layer")\nax.set_title(f"{a}: {b}")', 4),
        image_cell("plot_attention(weights)", 5),
    ])
    texts = build_site.figure_alt_texts(nb)
    assert texts == {
        digest(1): "Loss against step, falling and flat",
        digest(2): "BLEU against length",
        digest(3): "BLEU against length",      # more figures than lines: the last line
        digest(4): "Figure: BLEU by source length: …; Trained … self-attention, every layer",
        digest(5): "Figure: The loss of every batch, as fit records it",
    }


def test_every_figure_of_the_series_gets_alt_text_that_is_no_hash():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        images = {hashlib.sha256(base64.b64decode(o.data["image/png"])).hexdigest()
                  for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})}
        texts = build_site.figure_alt_texts(nb)
        assert set(texts) == images, path.name
        for alt in texts.values():
            assert len(alt) > len("Figure: ") + 10 and not re.fullmatch(r"[0-9a-f]{32,}", alt), (path.name, alt)


def test_claim_lines_of_printed_outputs_are_marked_and_nothing_else():
    body = ('<div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre><span></span>'
            '✓ the first claim  (1.0)\nepoch 1   loss 2.0\n  ✗ a failed one\n</pre></div></div>'
            '<div class="cell_input"><div class="highlight"><pre>print("✓ not an output")\n</pre></div></div>'
            '<p>\n✓ prose</p>')
    assert build_site.mark_claims(body) == (
        '<div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre><span></span>'
        '<span class="claim">✓ the first claim  (1.0)</span>\nepoch 1   loss 2.0\n'
        '<span class="claim">  ✗ a failed one</span>\n</pre></div></div>'
        '<div class="cell_input"><div class="highlight"><pre>print("✓ not an output")\n</pre></div></div>'
        '<p>\n✓ prose</p>')


# ----------------------------------------------------------------------------- the build
def test_build_site_takes_an_out_folder_relative_to_where_it_runs(tmp_path, monkeypatch, capsys):
    def sphinx(command, cwd):
        out = Path(command[-1])
        out.mkdir(parents=True)
        (out / "index.html").write_text("<html></html>")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(build_site, "stage", lambda: ["01_a.ipynb"])
    monkeypatch.setattr(build_site.subprocess, "run", sphinx)
    monkeypatch.chdir(tmp_path)
    assert build_site.main(["--out", "build/x"]) == 0
    assert (tmp_path / "build" / "x" / "index.html").is_file()
    assert f"in {tmp_path / 'build' / 'x'}/" in capsys.readouterr().out


def test_build_site_will_not_empty_a_folder_that_holds_no_site(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="no site Sphinx built"):
        build_site.main(["--out", str(tmp_path)])
    assert (tmp_path / "notes.txt").is_file()


def test_make_site_installs_the_site_packages_alone_in_a_venv_of_their_own():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry_run = subprocess.run(["make", "-n", "-B", "site", "SITE_VENV=/nonexistent-venv"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    installs = [line for line in dry_run.splitlines() if "pip install" in line and "upgrade pip" not in line]
    assert installs == ["/nonexistent-venv/bin/python -m pip install -q -r requirements-site.txt"], dry_run
    assert "torch" not in dry_run and "requirements.txt" not in dry_run.replace("requirements-site.txt", "")
    assert "/nonexistent-venv/bin/python scripts/build_site.py" in dry_run


def test_the_readmes_bibtex_and_citation_cff_cite_the_same_work():
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    field = {k: v.strip().strip('"') for k, v in re.findall(r"^([a-z-]+):[ \t]*(.+)$", cff, re.M)}
    assert field["cff-version"] == "1.2.0" and field["license"] == "MIT"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bibtex = re.search(r"```bibtex\n(@misc\{.*?\n\})\n```", readme, re.S)
    assert bibtex, "README.md has no BibTeX block"
    entry = dict(re.findall(r"^\s+(\w+)\s*=\s*\{(.*)\},?$", bibtex.group(1), re.M))
    assert entry["title"] == field["title"]
    assert entry["howpublished"] == f"\\url{{{field['repository-code']}}}"
    assert entry["author"] == "{" + re.search(r"- name: \"(.+)\"", cff).group(1) + "}"
