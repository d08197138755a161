"""The garbage collector of a long-running process, settled once it has started.

CPython's cyclic collector runs after every 700 new container objects (dicts, lists,
coroutines, ...), and every so often it looks through everything that survived: in a
robocall process that is mostly what start-up built and keeps for good (modules, routes,
SQLAlchemy's and Jinja's tables, the loaded flows), 50 to 100 ms of work on this machine
each time. For a worker that means a call dialled late; for the web server, a pause in
every webhook in flight.

Once start-up is over, what it built is frozen: the collector no longer looks at it.
Servers (the web app, the simulator) also collect less often (after 10,000 new objects
rather than 700): a webhook makes a few hundred, so under load the collector otherwise runs
every few requests, and looks through all that the server has gathered since it started
(the simulator keeps the calls it placed) more often. Short-lived objects are still freed
by reference counting as before, and cycles among them are still collected, a little later
(see BENCHMARKS.md, "Webhooks" and "Dispatch").
Processes that keep time (a worker waking for its rate slot) keep the default: a
collection of 10,000 young objects is one pause of a few milliseconds rather than
several short ones.
"""

from __future__ import annotations

import gc

# New container objects between two collections of the youngest generation (CPython: 700)
# in a server.
SERVER_YOUNG_THRESHOLD = 10_000


def settle_heap(*, collect_less_often: bool = False) -> None:
    """Collect what start-up left behind and freeze the rest; with `collect_less_often`
    (a server), collect the youngest generation after SERVER_YOUNG_THRESHOLD objects.

    Call once, after start-up and before the first request or job. What is frozen is never
    collected: an object made before this call and dropped later is freed only if no
    reference cycle holds it.
    """
    gc.collect()
    gc.freeze()
    if collect_less_often:
        young, middle, old = gc.get_threshold()
        gc.set_threshold(max(young, SERVER_YOUNG_THRESHOLD), middle, old)
