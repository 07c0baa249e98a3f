"""Sphinx configuration of the hatcher documentation."""

import os
import re
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))

with open(os.path.join(os.path.dirname(__file__), "..", "hatcher", "__init__.py"), encoding="utf-8") as fp:
    release = re.search(r'^__version__ = "([^"]+)"', fp.read(), re.M).group(1)

project = "hatcher"
author = "the hatcher developers"
copyright = "2026, the hatcher developers"  # noqa: A001
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_click",
    "hatcher_cli_docs",
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
