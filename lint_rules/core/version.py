"""The tool's version: part of every cache key and every machine-readable report."""

__version__ = "0.1.0"
