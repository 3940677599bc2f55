"""The scenario whose maillog the round-trip tests fit: its parameters are the truth
the fit must give back."""

from __future__ import annotations

RATE_A = 0.3  # per second, two hours
RATE_B = (0.08, 0.4)  # per second, hour 0 then hour 1
MEDIAN, SIGMA = 8192.0, 1.2
PER_MESSAGE = {1: 0.6, 2: 0.3, 3: 0.1}
DOMAINS = {"d1.example": 0.5, "d2.example": 0.3, "d3.example": 0.15, "d4.example": 0.05}
UNKNOWN = 0.02
DEFER_D1 = 0.2

SCENARIO = f"""
name: round-trip
duration: 2h
seed: 11
hosts:
  out: {{role: mta, accepts: [a.example, b.example], mailboxes: 1000}}
  mx1: {{role: mx, accepts: [d1.example], mailboxes: 100000}}
  mx2: {{role: mx, accepts: [d2.example], mailboxes: 100000}}
  mx3: {{role: mx, accepts: [d3.example], mailboxes: 100000}}
  mx4: {{role: mx, accepts: [d4.example], mailboxes: 100000}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 20ms}}
  - {{between: [mx2, internet], latency: 20ms}}
  - {{between: [mx3, internet], latency: 20ms}}
  - {{between: [mx4, internet], latency: 20ms}}
dns:
  a.example: {{mx: {{out: 10}}}}
  b.example: {{mx: {{out: 10}}}}
  d1.example: {{mx: {{mx1: 10}}}}
  d2.example: {{mx: {{mx2: 10}}}}
  d3.example: {{mx: {{mx3: 10}}}}
  d4.example: {{mx: {{mx4: 10}}}}
traffic:
  a:
    submit_to: out
    sender_domain: a.example
    rate: {RATE_A}/s
    size: {{lognormal: {{median: {MEDIAN:.0f}B, sigma: {SIGMA}}}}}
    recipients:
      per_message: {{table: {PER_MESSAGE}}}
      domains: {DOMAINS}
    unknown_users: {UNKNOWN}
  b:
    submit_to: out
    sender_domain: b.example
    rate: {{piecewise: [{{at: 0, rate: {RATE_B[0]}/s}}, {{at: 1h, rate: {RATE_B[1]}/s}}]}}
    size: {{lognormal: {{median: {MEDIAN:.0f}B, sigma: {SIGMA}}}}}
    recipients:
      per_message: {{table: {PER_MESSAGE}}}
      domains: {DOMAINS}
    unknown_users: {UNKNOWN}
incidents:
  - {{server_errors: {{host: mx1, phase: rcpt, reply: "451 4.3.0 Try again later",
                      probability: {DEFER_D1}}}}}
"""
