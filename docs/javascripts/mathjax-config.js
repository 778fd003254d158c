// MathJax 3, served from this site (assets/mathjax), typesets the math of every page: the
// \( \) and \[ \] spans that pymdownx.arithmatex writes on the Markdown pages, and the $ $ and
// $$ $$ of the notebooks' Markdown cells (and of their headings in the table of contents). Code,
// and the site's header, search and footer, are never read as math.
window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
  },
  options: {
    ignoreHtmlClass: "tex2jax_ignore|md-header|md-search|md-footer",
  },
};
