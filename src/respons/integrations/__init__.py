"""Integrations with the world outside: each behind a small interface with a local implementation."""
