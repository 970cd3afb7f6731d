"""When the garbage collector runs: never a full collection while a reply streams.

A full (gen 2) collection walks every live object: with Textual, SQLAlchemy and a long
reply's widgets that is 100-300 ms, a visible hitch mid-stream. What exists once the app
is up lives as long as the app: it is frozen out of the collector's walks, and the young
generation is collected less often. While a reply streams only what the reply makes is
collected, in small steps; after it (and periodically while idle) the frozen set is
thawed, collected once and frozen again, so widgets of threads browsed away from are freed.
"""

from __future__ import annotations

import gc

IDLE_COLLECT_SECONDS = 60.0
THRESHOLDS = (20_000, 20, 100)
STREAMING_YOUNG = 2_000


def app_started() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def reply_started() -> None:
    """Each update leaves the widgets it was parsed into, and widgets are cycles (15 MB
    over an 8,000-chunk reply with collection off): a small young generation (the second
    one every 20 of those) keeps each pause to 1-2 ms, at worst ~13 ms (measured)."""
    gc.freeze()
    gc.set_threshold(STREAMING_YOUNG, 20, 1 << 30)


def reply_ended() -> None:
    gc.set_threshold(*THRESHOLDS)


def collect_young_widgets() -> None:
    """Drop cyclic garbage among what was made since the last freeze (a slid chat window's
    unmounted turns, once they aged into the oldest generation): the frozen set is not
    walked, so this costs a fraction of a full collection."""
    gc.collect()


def collect_and_freeze() -> None:
    """Unfreeze, drop cyclic garbage (removed widgets are cycles), freeze what lives on."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
