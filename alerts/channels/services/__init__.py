"""Our replacements for apprise services, one module per service (as apprise keeps them).

A replacement subclasses :class:`ServiceOverride` and the apprise plugin it replaces;
defining it registers it in :data:`OVERRIDES` under that plugin, and
:func:`alerts.channels.sender.build_plugin` then builds it for the service's URLs. The
package scans its own modules, so a new override is one new file here.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from apprise.plugins.base import NotifyBase

#: apprise plugin class → our subclass that replaces it.
OVERRIDES: dict[type[NotifyBase], type[NotifyBase]] = {}


class ServiceOverride:
    """Mixin marking a subclass of an apprise plugin as its replacement."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        replaced = next(
            b for b in cls.__bases__ if issubclass(b, NotifyBase) and b is not ServiceOverride
        )
        if replaced in OVERRIDES:
            taken = OVERRIDES[replaced].__name__
            raise TypeError(f"{replaced.__name__} is already replaced by {taken}")
        OVERRIDES[replaced] = cls  # type: ignore[assignment]


def load_all() -> None:
    """Import every override module here (each registers itself on import)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
