"""The core layer: the code table, diagnostics, source reading and writing, noqa, configuration.

Imports nothing else of the package; every other layer builds on it.
"""
