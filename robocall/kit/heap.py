"""The garbage collector of a long-running server process, settled once it has started.

CPython's cyclic collector runs after every 700 new container objects (dicts, lists,
coroutines, ...). A webhook makes a few hundred of them, so under load it runs every few
requests, and every tenth of those runs also looks through everything that survived once
more: with two hundred requests in flight that is much of what the process holds, the
application's modules, routes, SQLAlchemy's and Jinja's tables, the loaded flows. That
costs a webhook about a fifth of its time (see BENCHMARKS.md, "Webhooks").

Once start-up is over, what it built lives as long as the process, so it is frozen (the
collector no longer looks at it), and the collector runs after 10,000 new objects instead
of 700: short-lived request objects are still freed by reference counting as before, and
cycles among them are still collected, a little later.
"""

from __future__ import annotations

import gc

# New container objects between two collections of the youngest generation (CPython: 700).
YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Collect what start-up left behind, freeze the rest, and collect less often from now.

    Call once, after start-up and before the first request. What is frozen is never
    collected: an object made before this call and dropped later is freed only if no
    reference cycle holds it (a flow library replaced after an edit, for one).
    """
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
