"""Which characters count as word characters for Latin-term boundaries and NEAR distances."""

from __future__ import annotations

import re

# Scripts written without spaces between words (or, for Hangul, with attached particles):
# their characters never block a Latin term's word boundary.
_NS_RANGES = (
    "\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u2e80-\u2fdf\u3000-\u30ff"
    "\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003ffff"
)
NON_SPACED = re.compile(f"[{_NS_RANGES}]")
# Word units for NEAR: a Latin-script word is 2 units, one non-spaced character is 1.
WORD_UNITS = re.compile(f"((?=[^\\W_])[{_NS_RANGES}])|[^\\W_{_NS_RANGES}]+")


def is_word_char(ch: str) -> bool:
    """True for a letter/digit of a space-separated script (blocks a Latin term's edge)."""
    return ch.isalnum() and (ch < "\u0e00" or NON_SPACED.match(ch) is None)
