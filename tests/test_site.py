"""The website's pure-Python parts: the link check over built HTML (scripts/site_check.py) and the
sources scripts/build_site.py lays out (landing page, notebook pages, the final result). Building
the site and opening it in a browser are `make site` and `make site-check` (.ci/run runs both)."""
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402
import notebook_header  # noqa: E402
from site_check import launch_link_problems, link_problems, series_order_problems  # noqa: E402


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
    good = page(f'<a href="{notebook_header.colab_url(name)}">Colab</a><a href="{name}" download>.ipynb</a>')
    site = write(tmp_path, {"notebooks/01_a.html": good})
    assert launch_link_problems(site, [name]) == []
    write(site, {"notebooks/01_a.html": page('<a href="https://colab.research.google.com/github/old/name/blob/main/'
                                             'notebooks/01_a.ipynb">Colab</a>')})
    assert len(launch_link_problems(site, [name])) == 2


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


def test_the_final_result_comes_from_notebook_06s_committed_output():
    image, line = build_site.final_result(ROOT / "notebooks" / build_site.FINAL_RESULT[0], build_site.FINAL_RESULT[1])
    assert image.startswith(b"\x89PNG") and "→" in line
    with pytest.raises(SystemExit, match="no code cell"):
        build_site.final_result(ROOT / "notebooks" / build_site.FINAL_RESULT[0], "no cell has this")
