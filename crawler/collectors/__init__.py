"""Collectors, one module per source type; importing the package registers every one.

Each module defines a :class:`~crawler.collectors.base.Collector` subclass for one source
model, which registers itself by the model's ``type`` names. The package scans its own
modules (as apprise finds its services), so a new source type's collector is one new file
here, with no list to extend.
"""

from __future__ import annotations

import importlib
import pkgutil

from crawler.collectors.base import COLLECTORS, Collector

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["COLLECTORS", "Collector"]
