"""Traffic: arrivals (Poisson, piecewise, diurnal, bursts), sizes, recipients and
domain mix, unknown users; each flow a population of senders."""

from .arrivals import burst_times, poisson_times
from .flow import Flow
from .mail_clients import UNRESOLVED, ClientProfile, MailClientPopulation
from .recipients import RecipientSampler

__all__ = [
    "UNRESOLVED",
    "ClientProfile",
    "Flow",
    "MailClientPopulation",
    "RecipientSampler",
    "burst_times",
    "poisson_times",
]
