"""The one Twisted reactor of a process: Scrapy's asyncio reactor, installed once.

It must be installed before anything imports ``twisted.internet.reactor`` (which installs
the default one); the daemon, ``wirewatch poll`` and the tests call :func:`install_reactor`
first. A process that already runs another reactor cannot crawl: that is an error, not a
silent second reactor.
"""

from __future__ import annotations

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def install_reactor() -> None:
    """Install Scrapy's asyncio reactor unless it already is; fail on any other reactor."""
    from scrapy.utils.reactor import install_reactor as scrapy_install_reactor
    from scrapy.utils.reactor import is_asyncio_reactor_installed, is_reactor_installed

    if not is_reactor_installed():
        scrapy_install_reactor(ASYNCIO_REACTOR)
    elif not is_asyncio_reactor_installed():
        raise RuntimeError("a non-asyncio Twisted reactor is already installed")
