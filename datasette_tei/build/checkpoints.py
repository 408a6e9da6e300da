"""The interruption tests' hook, in a module of its own so that the phases
that call it (load, finish, coordination) need not import one another.

With DATASETTE_TEI_STOP_AT=<phase>[:<n>] set, the build stops itself
(SIGSTOP) the n-th time (default 1) it reaches <phase>, so that a test can
kill or interrupt it exactly there. Phases: "rows" (a batch written, its
archive's transaction still open), "indexes" (indexes created, not yet
committed), "summary" (a campaign summarised, not yet committed),
"coordination" (a coordination run computed, not yet committed). Unset, as
in normal use, it does nothing.
"""
import os
import signal
from collections import defaultdict

_reached = defaultdict(int)


def checkpoint(phase):
    wanted = os.environ.get("DATASETTE_TEI_STOP_AT")
    if wanted and wanted.split(":")[0] == phase:
        _reached[phase] += 1
        if _reached[phase] == int(wanted.partition(":")[2] or 1):
            os.kill(os.getpid(), signal.SIGSTOP)
