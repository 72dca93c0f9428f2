"""Channel URLs fit to print: secrets in query parameters masked.

apprise's ``url(privacy=True)`` masks what a service marks private (passwords, tokens in the
host or path) but prints custom header (``+X-Token=…``) and payload (``-key=…``) parameters
as given, and those often carry a webhook's secret. ``redact_url`` masks their values, and
the value of any parameter whose name looks like a credential.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_NAME = re.compile(r"token|secret|pass|key|sig|auth|cred|session|cookie", re.I)


def redact_url(url: str) -> str:
    """``url`` with the values of header, payload and credential-like parameters masked."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [
        (name, MASK if _is_secret(name) and value else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="+-:/*", quote_via=quote)))


def _is_secret(name: str) -> bool:
    return name.startswith(("+", "-")) or bool(_SECRET_NAME.search(name))
