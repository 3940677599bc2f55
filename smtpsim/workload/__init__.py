"""Traffic: arrivals (Poisson, piecewise, diurnal, bursts), sizes, recipients and
domain mix, unknown users; each flow a population of senders."""

from .arrivals import burst_times, poisson_times
from .flow import Flow
from .recipients import RecipientSampler

__all__ = ["Flow", "RecipientSampler", "burst_times", "poisson_times"]
