"""Made-up words with Zipf weights, for generated text whose n-grams repeat as rarely across
unrelated documents as real news text's do."""

from __future__ import annotations

import functools
import random

SYLLABLES = (
    "ka", "lo", "mi", "ten", "ra", "po", "su", "vel", "dor", "an", "ex", "tri", "mon", "sa",
    "qu", "lin", "ber", "go", "ni", "stra", "pel", "chi", "or", "ux", "van", "de", "rum",
)  # fmt: skip


@functools.cache
def vocabulary(size: int, common: tuple[str, ...] = ()) -> tuple[list[str], list[float]]:
    """``common`` words, then made-up ones up to ``size`` (the same on every call), and
    their cumulative Zipf weights (rank 1 first), for ``random.choices(cum_weights=…)``."""
    rng = random.Random(0)
    words = dict.fromkeys(common)
    while len(words) < size:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words), zipf_cum(len(words))


def zipf_cum(n: int) -> list[float]:
    """Cumulative weights 1/1, 1/1 + 1/2, … of ``n`` ranks."""
    total, cum = 0.0, []
    for rank in range(1, n + 1):
        total += 1.0 / rank
        cum.append(total)
    return cum
