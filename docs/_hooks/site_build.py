"""Build steps of the documentation site that MkDocs and its plugins do not do themselves.

- Execute every notebook before the pages are read: notebooks/*.py (the tutorials) and
  docs/how-to/*.py, jupytext percent scripts, each run top to bottom in a fresh kernel and
  written as an executed .ipynb beside the pages (docs/tutorials/, docs/how-to/). A notebook
  whose source and whose library are unchanged since its last run is not run again, so
  `mkdocs serve` does not rebuild in a loop. A failing cell fails the build.
- Write one API page per public module of the package, so a module added later gets a page.
- Serve MathJax 3 from the site itself (every page loads it), in place of the notebook
  template's MathJax 2 and its mermaid.js loader: no page may fetch anything from another host.
- Put the notebooks' SVG pictures into their pages as SVG, so every node's tooltip shows.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.util
import inspect
import logging
import os
import pathlib
import pkgutil
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tinygrad_rnn"
NOTEBOOK_SOURCES = {ROOT / "notebooks": "tutorials", ROOT / "docs" / "how-to": "how-to"}
CELL_TIMEOUT = 300  # seconds for one cell
HASH_KEY = "tinygrad_rnn_site_source_hash"
# modules with an API page, in reading order; any other public module is added after them
API_ORDER = [
    "tinygrad_rnn",
    "tensors",
    "factories",
    "autograd",
    "ops",
    "grads",
    "gradcheck",
    "nn",
    "optim",
    "jit",
    "tbptt",
    "interop",
    "checkpoint",
    "train",
    "models",
    "data",
    "tasks",
    "viz",
    "reference",
    "compare",
    "random",
    "errors",
    "cli",
]
API_HIDDEN = {"__main__"}
MATHJAX_DIR = "assets/mathjax"
MATHJAX_ENTRY = "tex-mml-chtml.js"
MATHJAX_PARTS = [MATHJAX_ENTRY, "input", "output/chtml", "ui", "a11y", "adaptors"]

log = logging.getLogger("mkdocs.hooks.site_build")


def _library_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _execute(source: pathlib.Path, target: pathlib.Path, library_hash: str) -> str:
    """Run one jupytext script in a kernel started in its folder; write the executed notebook."""
    import jupytext
    import nbclient
    import nbformat

    source_hash = hashlib.sha256(source.read_bytes() + library_hash.encode()).hexdigest()
    if target.exists():
        previous = nbformat.read(target, as_version=4)
        if previous.metadata.get(HASH_KEY) == source_hash:
            return f"{source.name}: unchanged"
    notebook = jupytext.read(source)
    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(source.parent)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        raise PluginError(f"notebook {source.relative_to(ROOT)}: a cell failed\n{error}") from error
    notebook.metadata[HASH_KEY] = source_hash
    notebook.metadata.pop("jupytext", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    written = target.with_name(target.name + ".partial")
    nbformat.write(notebook, written)
    written.replace(target)
    return f"{source.name}: executed"


def on_pre_build(config) -> None:
    """Execute the notebooks (two at a time) into docs/tutorials/ and docs/how-to/."""
    docs = pathlib.Path(config["docs_dir"])
    jobs = []
    for folder, section in NOTEBOOK_SOURCES.items():
        for source in sorted(folder.glob("*.py")):
            jobs.append((source, docs / section / f"{source.stem}.ipynb"))
    # the kernels import this checkout's package and draw inline (no MPLBACKEND=Agg)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p)
    os.environ.pop("MPLBACKEND", None)
    library_hash = _library_hash()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for outcome in pool.map(lambda job: _execute(*job, library_hash), jobs):
            log.info(outcome)


def _api_modules() -> list[str]:
    found = {
        name
        for _, name, _ in pkgutil.iter_modules([str(PACKAGE)])
        if not name.startswith("_") and name not in API_HIDDEN
    }
    ordered = [name for name in API_ORDER if name == "tinygrad_rnn" or name in found]
    return ordered + sorted(found - set(ordered))


def _api_path(name: str) -> str:
    return "api/index.md" if name == "tinygrad_rnn" else f"api/{name}.md"


def _top_level_page() -> str:
    """The package's docstring, then each name in its __all__ linked to where it is documented."""
    package = importlib.import_module("tinygrad_rnn")
    rows = []
    for name in package.__all__:
        value = getattr(package, name)
        summary = (inspect.getdoc(value) or "").split("\n", 1)[0].replace("|", "&#124;")
        target = f"({name}.md)" if inspect.ismodule(value) else f"[{value.__module__}.{value.__name__}]"
        rows.append(f"| [`{name}`]{target} | {summary} |")
    table = "\n".join(["| name | what it is |", "|---|---|", *rows])
    modules = ", ".join(f"[`{name}`]({name}.md)" for name in _api_modules() if name != "tinygrad_rnn")
    return (
        "# API reference\n\n::: tinygrad_rnn\n    options:\n      members: false\n"
        "      show_root_heading: false\n\n"
        f"## Imported from `tinygrad_rnn`\n\n{table}\n\n## Modules\n\nOne page each: {modules}.\n"
    )


def _api_page(name: str) -> str:
    if name == "tinygrad_rnn":
        return _top_level_page()
    return f"# `tinygrad_rnn.{name}`\n\n::: tinygrad_rnn.{name}\n"


# "h[l][t]" or "x[args[1]]" in a docstring reads as a Markdown reference link; a reference to the API
# always names a dotted path (tinygrad_rnn.tensors.Tensor), so one without a dot is the docstring's
# own text and is put back as written
INDEX_LINK = re.compile(r'<autoref (?![^>]*\boptional\b)[^>]*?identifier="([^".]*)"[^>]*>(.*?)</autoref>', re.DOTALL)


def on_page_content(html: str, page, config, files) -> str:
    if page.file.src_uri.startswith("api/"):
        return INDEX_LINK.sub(lambda match: f"[{match.group(2)}][{match.group(1)}]", html)
    return html


def on_config(config):
    """Put one API page per public module under the nav's "API reference"."""
    pages = [{name: _api_path(name)} for name in _api_modules()]
    for entry in config["nav"]:
        if isinstance(entry, dict) and "API reference" in entry:
            entry["API reference"] = pages
            return config
    raise PluginError('mkdocs.yml: the nav needs an "API reference" entry for the generated API pages')


def on_files(files, config):
    for name in _api_modules():
        files.append(File.generated(config, _api_path(name), content=_api_page(name)))
    return files


def _mathjax_source() -> pathlib.Path:
    """MathJax 3 as django-static-mathjax ships it (a top-level package named `mathjax`)."""
    spec = importlib.util.find_spec("mathjax")
    folder = pathlib.Path(next(iter(spec.submodule_search_locations or []), "")) if spec else None
    source = folder / "static" / "mathjax" / "es5" if folder else None
    if source is None or not (source / MATHJAX_ENTRY).is_file():
        raise PluginError(
            "the docs extra installs django-static-mathjax, which ships the MathJax every page "
            'loads from the site: pip install -e ".[docs]"'
        )
    return source


# nbconvert's page template loads MathJax 2 (with its own settings) and, when a notebook shows a
# diagram, mermaid.js; both blocks are dropped, since every page loads the site's MathJax 3 and
# these notebooks show no diagram
NOTEBOOK_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.DOTALL)
MERMAID_LOADER = re.compile(
    r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{'
    r'\s*const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>',
    re.DOTALL,
)


# nbconvert writes an SVG output as <img src="data:...">, where no tooltip can show; the graph
# pictures are put into the page as SVG elements instead (they come from this build's own runs)
SVG_IMAGE = re.compile(r'<img\b[^>]*?\bsrc="data:image/svg\+xml;base64,([A-Za-z0-9+/=\s]+)"[^>]*>')
SVG_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)


def _inline_svg(match: re.Match) -> str:
    return SVG_PROLOGUE.sub("", base64.b64decode(match.group(1)).decode("utf-8"), count=1)


def on_post_page(html: str, page, config) -> str:
    if getattr(page, "nb_url", None):
        html, found = NOTEBOOK_MATHJAX.subn("", html)
        if found != 1:
            raise PluginError(f"{page.file.src_uri}: the notebook template's MathJax block was not found")
        if 'class="jp-Mermaid' not in html:
            html = MERMAID_LOADER.sub("", html)
        html = SVG_IMAGE.sub(_inline_svg, html)
    return html


def on_post_build(config) -> None:
    """Copy the parts of MathJax the pages use (TeX input, HTML output and its fonts) into the site."""
    source, target = _mathjax_source(), pathlib.Path(config["site_dir"]) / MATHJAX_DIR
    if target.exists():
        shutil.rmtree(target)
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / part, target / part)
