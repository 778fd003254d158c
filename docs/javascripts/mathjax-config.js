// MathJax 2, served from this site (assets/mathjax), typesets the \( \) and \[ \] spans that
// pymdownx.arithmatex writes on the Markdown pages. A notebook page loads MathJax itself,
// with its own settings, before this file runs: then there is nothing to configure here.
if (!window.MathJax) {
  window.MathJax = {
    config: ["TeX-AMS-MML_HTMLorMML-full.js", "local/site.js"],
    messageStyle: "none",
    showMathMenu: false,
    tex2jax: {
      inlineMath: [["\\(", "\\)"]],
      displayMath: [["\\[", "\\]"]],
      processEscapes: true,
      processClass: "arithmatex",
      ignoreClass: ".*",
    },
  };
}
