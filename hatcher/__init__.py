"""hatcher: the Python client library and command line for Brood package servers."""

__version__ = "1.0.0.dev0"

__all__ = ["__version__"]
