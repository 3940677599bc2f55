"""Plausibility bounds: the largest values a scenario may give, in one place.

A scenario is a description of something that could exist. A value far outside what
any mail system has (a message of 10^15 GiB, 10^9 recipients per message, a run of
10^20 years) is a typo or an attack on the tool, and left alone it ends as an
``OverflowError`` that names no field, or a run that never ends. Each bound below is
generous: well above the largest real value we know of (the reason is next to it),
so that no realistic scenario meets one. The unit parsers (:mod:`.units`) and the
schema (``le=`` and validators in :mod:`.schema`, :mod:`.policies`,
:mod:`.incidents`) use these names, and their messages give the bound.

A run that stays inside every bound can still be too big to finish (a high rate for
a long time); ``simulation.max_events`` stops such a run with a clear error instead.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_EVENTS",
    "MAX_BANDWIDTH",
    "MAX_COUNT",
    "MAX_DEPTH",
    "MAX_DURATION",
    "MAX_FACTOR",
    "MAX_MAX_EVENTS",
    "MAX_MESSAGES",
    "MAX_NODES",
    "MAX_POPULATION",
    "MAX_RATE",
    "MAX_RECIPIENTS_PER_MESSAGE",
    "MAX_SCORE",
    "MAX_SEED",
    "MAX_SIGMA",
    "MAX_SIZE",
    "MAX_WEIGHT",
    "MIN_BANDWIDTH",
]

MAX_DURATION = 3650 * 86400.0
"""A duration or point in time: at most 3650 days (10 years). Postfix's longest default is
``maximal_queue_lifetime`` = 5 days; a simulated decade is already beyond any study."""

MAX_SIZE = 4 * 1024**3
"""A size: at most 4 GiB. The largest message size limits in use are about 2 GB (Microsoft
Exchange's maximum); Postfix's default ``message_size_limit`` is 10,240,000 bytes."""

MAX_BANDWIDTH = 100e12 / 8
"""A link's capacity: 100 Tbit/s (in bytes per second), beyond any single link."""

MIN_BANDWIDTH = 1 / 8
"""A link's capacity: at least 1 bit/s; slower, a message's transfer time overflows."""

MAX_RATE = 100_000.0
"""A rate (messages or incident onsets per second): at most 100,000/s, several times the
whole mail volume of the largest providers."""

MAX_MESSAGES = 100_000_000
"""Messages of a flow or a burst: 10^8, far beyond what one run can simulate."""

MAX_RECIPIENTS_PER_MESSAGE = 10_000
"""Recipients of one message: 10,000, ten times Postfix's ``smtpd_recipient_limit``
default (1000); RFC 5321 section 4.5.3.1.8 asks servers to accept only 100."""

MAX_POPULATION = 10_000_000
"""Senders of a flow, mailboxes of a domain: 10^7."""

MAX_COUNT = 1_000_000_000
"""Every other count (limits, concurrencies, hits, rate-limit thresholds): 10^9."""

MAX_SIGMA = 5.0
"""A lognormal's sigma: 5. Measured message sizes have sigma near 2, latencies well
below 1; at sigma 5 the mean is already 270,000 times the median."""

MAX_FACTOR = 1_000_000.0
"""A multiplying factor (a congested link's latency, a slow host's processing): 10^6."""

MAX_WEIGHT = 1e9
"""A relative weight (recipient domains, recipients-per-message table): 10^9."""

MAX_SCORE = 1_000_000.0
"""A spam score, its standard deviation, or a threshold, in absolute value: 10^6."""

MAX_SEED = 2**64 - 1
"""A random seed: a 64-bit unsigned integer, like the replications' own seeds."""

MAX_DEPTH = 32
"""Nesting of YAML mappings and lists (a file, or a ``--set`` value): 32 levels. The
deepest valid scenario path has about 10; without a bound, 500 levels make the
parser and the validator recurse until Python gives up."""

MAX_NODES = 1_000_000
"""Values in a scenario, aliases expanded (YAML aliases can repeat a subtree
exponentially: the "billion laughs")."""

DEFAULT_MAX_EVENTS = 50_000_000
"""``simulation.max_events`` by default: simulation events before a run is stopped.
A one-hour quickstart takes about 16,000; 50 million take hours."""

MAX_MAX_EVENTS = 10**12
"""The largest ``simulation.max_events`` that may be set."""
