"""The one Twisted reactor of a process: Scrapy's asyncio reactor, installed once.

It must be installed before anything imports ``twisted.internet.reactor`` (which installs
the default one); the daemon, ``wirewatch poll`` and the tests call :func:`install_reactor`
first. A process that already runs another reactor cannot crawl: that is an error, not a
silent second reactor.
"""

from __future__ import annotations

import importlib
import threading

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# Scrapy's TLS modules define deprecated aliases with a helper that calls inspect.stack(),
# which looks up the module and source of every frame on the stack: imported where Scrapy
# first needs them (inside a command and the reactor loop, 50-odd frames deep) that cost
# about 0.4 s of CPU per process. On a thread of their own the stack is a few frames.
_SHALLOW_IMPORTS = (
    "scrapy.core.downloader.tls",
    "scrapy.core.downloader.contextfactory",
    "scrapy.core.downloader.handlers.http11",
)


def install_reactor() -> None:
    """Install Scrapy's asyncio reactor unless it already is; fail on any other reactor."""
    from scrapy.utils.reactor import install_reactor as scrapy_install_reactor
    from scrapy.utils.reactor import is_asyncio_reactor_installed, is_reactor_installed

    if not is_reactor_installed():
        scrapy_install_reactor(ASYNCIO_REACTOR)
    elif not is_asyncio_reactor_installed():
        raise RuntimeError("a non-asyncio Twisted reactor is already installed")
    _import_on_a_short_stack()


def _import_on_a_short_stack() -> None:
    """Import ``_SHALLOW_IMPORTS`` from a fresh thread (errors surface at their real use)."""

    def load() -> None:
        for name in _SHALLOW_IMPORTS:
            importlib.import_module(name)

    thread = threading.Thread(target=load, name="wirewatch-imports", daemon=True)
    thread.start()
    thread.join()
