"""Candor's shared domain package: settings, models, services and the CLI."""

__version__ = "0.1.0"
