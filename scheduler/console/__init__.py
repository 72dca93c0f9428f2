"""The web console: stories, sources, alerts and watchlists, served by ``scheduler.http``.

Pages work without JavaScript; htmx (vendored under ``static/vendor``) only makes the
watchlist try-out answer as you type.
"""
