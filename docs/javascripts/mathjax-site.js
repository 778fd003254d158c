// Copied to assets/mathjax/config/local/site.js by docs/_hooks/site_build.py and loaded by every
// page after MathJax's own configuration. The MathJax served here ships the STIX-Web fonts
// only, so its HTML-CSS output is told to use those and never to ask for the TeX fonts.
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: ["STIX-Web"], preferredFont: "STIX-Web", webFont: "STIX-Web", imageFont: null},
  SVG: {font: "STIX-Web"},
  messageStyle: "none",
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/site.js");
