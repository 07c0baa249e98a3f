"""The ``hatcher`` command line: a click tree with one module per command group."""
