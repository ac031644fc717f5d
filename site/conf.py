"""Sphinx configuration of the series' website. scripts/build_site.py lays out the sources in
build/site-src/ (README.md as index.md, the notebooks) and runs Sphinx with this folder as its
configuration folder: `make site`."""
import importlib.util
import json
import shutil
import sys
from pathlib import Path

from docutils import nodes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from build_site import ALT_TEXTS, mark_claims  # noqa: E402
from notebook_header import REPO_URL  # noqa: E402

project = "Seq2seq with attention"
author = "the seq2seq-attention-notebooks contributors"
copyright = "the seq2seq-attention-notebooks contributors, MIT license"

extensions = ["myst_nb", "sphinx.ext.mathjax", "sphinx_copybutton"]
exclude_patterns = ["_extra"]
# The committed outputs are the ones nbval checks: show them, never execute.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = "Seq2seq with attention"
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_favicon = "_static/favicon.svg"   # else browsers ask for /favicon.ico, a 404 and a console error
html_extra_path = [str(ROOT / "build" / "site-src" / "_extra")]   # the .ipynb files and README figures
html_copy_source = False            # the pages link to the notebooks themselves instead
html_show_sourcelink = False
html_last_updated_fmt = None
# The theme's colour mode on a first visit. Without one, its script logs a console error ("Got
# invalid theme mode"); light, because the notebooks' figures are drawn on white.
html_context = {"default_mode": "light"}
html_theme_options = {
    "repository_url": REPO_URL,
    "use_repository_button": True,
    "use_issues_button": True,       # "open issue", in the header's GitHub menu
    "use_download_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
}

# A copy button on the code a reader runs: the notebooks' code cells and the code blocks of the
# Markdown pages, not the printed outputs (myst-nb renders those as highlighted blocks too, inside
# div.output). Prompts ($, >>>, ...) are left out of what is copied.
copybutton_selector = "div:not(.output) > div.highlight pre"
copybutton_exclude = ".linenos, .gp, .go"      # line numbers, and Pygments' prompts and outputs
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = False

# MathJax from the site itself (mathjax_path is relative to _static): the PyPI package
# sphinx-mathjax-offline ships MathJax 3's files. What TeX input with HTML output needs at run time
# is copied (6.9 MiB of its 23): the combined component, the TeX extensions MathJax loads on
# demand, the fonts, the menu, and what the menu's accessibility options (explorer, speech) load
# when a reader turns them on: a11y, the MathML input and the speech rule engine (sre, 3.9 MiB;
# without it those options asked the server for files it did not have). The site check fails on
# any request that does not load, so a file missing here for a page as it opens would show.
mathjax_path = "mathjax/tex-chtml.js"
MATHJAX_PARTS = ["tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y",
                 "input/mml.js", "input/mml", "sre"]


def copy_mathjax(app, exception):
    if exception is not None:
        return
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("sphinx-mathjax-offline is not installed: pip install -r requirements-site.txt")
    source = Path(spec.origin).parent / "static" / "mathjax"
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def figure_alt_texts(app, doctree, docname):
    """Each notebook figure's alt text, from scripts/build_site.py (by the image's file name, the
    SHA-256 of its bytes: myst-nb would give the name itself as alt text)."""
    path = Path(app.srcdir) / ALT_TEXTS
    texts = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    for image in doctree.findall(nodes.image):
        stem = Path(image["uri"]).stem
        if stem in texts:
            image["alt"] = texts[stem]


def claims_wrap(app, pagename, templatename, context, doctree):
    """The ✓ lines of the checked claims, marked so that they alone wrap (site/_static/site.css)."""
    if "body" in context:
        context["body"] = mark_claims(context["body"])


def setup(app):
    app.connect("doctree-resolved", figure_alt_texts)
    app.connect("html-page-context", claims_wrap)
    app.connect("build-finished", copy_mathjax)
