"""Respons: an open platform for municipal response services for welfare technology."""

__version__ = "0.1.0"
