"""SPF (RFC 7208) and DMARC (RFC 7489) as a receiving server applies them.

``evaluate_spf`` is RFC 7208's ``check_host()`` for the MAIL FROM identity (for the
null sender of bounces, ``postmaster@`` the HELO domain, section 2.4): it reads the
domain's ``v=spf1`` TXT record and evaluates its mechanisms ``all``, ``ip4``,
``ip6``, ``a``, ``mx``, ``include``, ``exists``, ``ptr`` and the ``redirect=``
modifier, with qualifiers ``+ - ~ ?`` and the common macros (section 7: ``%{s l o d
i v h}``, digits, ``r``, delimiters). Results: ``none``, ``neutral``, ``pass``,
``fail``, ``softfail``, ``temperror``, ``permerror``.

Limits (section 4.6.4): at most 10 terms that cause DNS lookups (``include``,
``a``, ``mx``, ``ptr``, ``exists``, ``redirect``), counted across includes, and at
most 2 void lookups (an empty answer or NXDOMAIN); more gives ``permerror``, as
does an ``mx`` with more than 10 hosts. A syntax error anywhere in a record gives
``permerror`` before anything is evaluated (section 4.6).

DNS comes from three callables given by the caller (the simulator's resolver, or a
dict in tests); each returns ``None`` for a temporary failure (SERVFAIL, timeout),
which makes the result ``temperror``, and an empty list for "no such records":

- ``txt(name) -> list[str] | None``: the TXT records, each record's strings joined;
- ``addresses(name) -> list[str] | None``: the A and AAAA addresses;
- ``mx_hosts(name) -> list[str] | None``: the MX host names.

Choices, where the RFC leaves them or the simulator cannot follow it:

- ``ptr`` (whose use RFC 7208 says SHOULD NOT happen) counts as a lookup and never
  matches: there is no reverse DNS to ask; ``%{p}`` expands to ``unknown``;
- ``exp=`` is parsed and ignored (explanations only change the reply text);
- a record published as several TXT strings must be given already joined.

``SpfDmarc`` is the policy. DMARC needs the RFC 5322 From domain, which the
simulator does not model: it is taken to be the envelope sender's domain (the HELO
domain for the null sender). SPF then always *aligns* when it passes, and DMARC
passes exactly when SPF passes (there is no DKIM here). With ``p=reject`` a message
that does not pass is refused at the end of data, after its transfer, as DMARC
requires (RFC 7208, RFC 7489): ``550 5.7.1 Email rejected per DMARC policy for DOMAIN``.
``p=quarantine`` and ``p=none`` accept (quarantine files the message as spam,
which for SMTP is a delivery). When SPF is ``temperror`` or the DMARC record cannot
be fetched, the message is deferred with ``451 4.4.3`` (DMARCbis: "best answered
with a 4xy"), unless ``defer_temperror=False``. Only the exact From domain's
``_dmarc`` record is read: the organizational-domain fallback needs the Public
Suffix List; ``pct=`` and ``sp=`` are ignored.

``reject_spf_fail=True`` also refuses an SPF ``fail`` at RCPT (RFC 7208 section 8.4)
with ``550 5.7.1 <sender>: Sender address rejected: SPF fail``, as
postfix-policyd-spf does by default; ``softfail`` is never refused on its own
(section 8.5).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..protocol import Reply, replies
from .envelope import domain_of
from .policy import END_OF_DATA, RCPT, Context, Policy

__all__ = [
    "RESULTS",
    "AddressLookup",
    "MxLookup",
    "SpfDmarc",
    "SpfResult",
    "TxtLookup",
    "dmarc_policy",
    "evaluate_spf",
]

TxtLookup = Callable[[str], list[str] | None]
AddressLookup = Callable[[str], list[str] | None]
MxLookup = Callable[[str], list[str] | None]

NONE, NEUTRAL, PASS, FAIL, SOFTFAIL = "none", "neutral", "pass", "fail", "softfail"
TEMPERROR, PERMERROR = "temperror", "permerror"
RESULTS = (NONE, NEUTRAL, PASS, FAIL, SOFTFAIL, TEMPERROR, PERMERROR)

LOOKUP_LIMIT = 10  # section 4.6.4
VOID_LOOKUP_LIMIT = 2
MX_LIMIT = 10

_QUALIFIERS = {"+": PASS, "-": FAIL, "~": SOFTFAIL, "?": NEUTRAL}
_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)(.*)$")
_MACRO = re.compile(r"%(?:\{([slodiphcrtvSLODIPHCRTV])(\d*)(r?)([.\-+,/_=]*)\}|(.))")
_DUAL_CIDR = re.compile(r"^(.*?)(?:/(\d{1,2}))?(?://(\d{1,3}))?$")


@dataclass(frozen=True, slots=True)
class SpfResult:
    """The outcome of ``check_host``: ``result`` (one of ``RESULTS``), the
    ``domain`` checked, and the ``lookups`` (counted terms) and DNS ``queries``
    (calls to the lookup callables) it took."""

    result: str
    domain: str
    lookups: int = 0
    queries: int = 0


class _Error(Exception):
    def __init__(self, result: str) -> None:
        super().__init__(result)
        self.result = result


@dataclass(frozen=True, slots=True)
class _Term:
    qualifier: str
    name: str  # mechanism name, lower case
    domain: str | None  # domain-spec, unexpanded
    address: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    cidr4: int
    cidr6: int


@dataclass(frozen=True, slots=True)
class _Record:
    terms: tuple[_Term, ...]
    redirect: str | None


def evaluate_spf(
    ip: str,
    sender: str,
    helo: str | None,
    *,
    txt: TxtLookup,
    addresses: AddressLookup,
    mx_hosts: MxLookup,
) -> SpfResult:
    """SPF for a client at ``ip`` sending as ``sender`` (``""`` for ``<>``) after
    ``HELO helo``."""
    if not sender:
        if not helo:
            return SpfResult(NONE, "")
        sender = f"postmaster@{helo}"
    local, at, domain = sender.rpartition("@")
    if not at:
        local, domain = "postmaster", sender
    if not local:
        sender = f"postmaster@{domain}"
    domain = domain.lower().rstrip(".")
    try:
        client = ipaddress.ip_address(ip)
    except ValueError:
        return SpfResult(PERMERROR, domain)
    check = _Check(client, sender, helo or "", txt, addresses, mx_hosts)
    try:
        result = check.check_host(domain)
    except _Error as exc:
        result = exc.result
    return SpfResult(result, domain, check.lookups, check.queries)


class _Check:
    """One evaluation: the client, the identity, the DNS, and the counters that
    the lookup limits apply to across includes and redirects."""

    def __init__(
        self,
        client: ipaddress.IPv4Address | ipaddress.IPv6Address,
        sender: str,
        helo: str,
        txt: TxtLookup,
        addresses: AddressLookup,
        mx_hosts: MxLookup,
    ) -> None:
        self.client = client
        self.sender = sender
        self.helo = helo
        self._txt, self._addresses, self._mx = txt, addresses, mx_hosts
        self.lookups = 0
        self.voids = 0
        self.queries = 0

    # --- DNS, counted ---------------------------------------------------------------

    def _count_lookup(self) -> None:
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            raise _Error(PERMERROR)

    def _ask(
        self, lookup: Callable[[str], list[str] | None], name: str, *, void_counts: bool
    ) -> list[str]:
        self.queries += 1
        answer = lookup(name)
        if answer is None:
            raise _Error(TEMPERROR)
        if not answer and void_counts:
            self.voids += 1
            if self.voids > VOID_LOOKUP_LIMIT:
                raise _Error(PERMERROR)
        return answer

    # --- check_host (section 4) -----------------------------------------------------

    def check_host(self, domain: str) -> str:
        if not _valid_domain(domain):
            return NONE
        records = [
            r
            for r in self._ask(self._txt, domain, void_counts=False)
            if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")
        ]
        if not records:
            return NONE
        if len(records) > 1:
            return PERMERROR
        record = _parse(records[0])  # raises permerror on any syntax error
        for term in record.terms:
            if self._matches(term, domain):
                return _QUALIFIERS[term.qualifier]
        if record.redirect is not None:
            self._count_lookup()
            target = self._expand(record.redirect, domain)
            result = self.check_host(target)
            return PERMERROR if result == NONE else result  # section 6.1
        return NEUTRAL

    def _matches(self, term: _Term, domain: str) -> bool:
        name = term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            return term.address is not None and self.client in term.address
        self._count_lookup()
        target = self._expand(term.domain, domain) if term.domain is not None else domain
        if name == "a":
            return self._in_addresses(self._ask(self._addresses, target, void_counts=True), term)
        if name == "mx":
            hosts = self._ask(self._mx, target, void_counts=True)
            if len(hosts) > MX_LIMIT:
                raise _Error(PERMERROR)
            return any(
                self._in_addresses(self._ask(self._addresses, host, void_counts=False), term)
                for host in hosts
            )
        if name == "include":
            result = self.check_host(target)
            if result == PASS:
                return True
            if result in (TEMPERROR, PERMERROR):
                raise _Error(result)
            if result == NONE:
                raise _Error(PERMERROR)  # section 5.2: an include without a record
            return False  # fail, softfail, neutral: no match
        if name == "exists":
            return bool(self._ask(self._addresses, target, void_counts=True))
        return False  # ptr: no reverse DNS here (see the module docstring)

    def _in_addresses(self, found: list[str], term: _Term) -> bool:
        client = self.client
        prefix = term.cidr4 if client.version == 4 else term.cidr6
        for text in found:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            if address.version != client.version:
                continue
            if client in ipaddress.ip_network(f"{address}/{prefix}", strict=False):
                return True
        return False

    # --- macros (section 7) ---------------------------------------------------------

    def _expand(self, spec: str, domain: str) -> str:
        if "%" not in spec:
            return spec.rstrip(".").lower()

        def one(m: re.Match[str]) -> str:
            letter, digits, reverse, delimiters, escape = m.groups()
            if escape is not None:
                if escape == "%":
                    return "%"
                if escape == "_":
                    return " "
                if escape == "-":
                    return "%20"
                raise _Error(PERMERROR)
            value = self._macro_value(letter.lower(), domain)
            parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
            if reverse:
                parts.reverse()
            if digits:
                keep = int(digits)
                if keep == 0:
                    raise _Error(PERMERROR)
                parts = parts[-keep:]
            return ".".join(parts)

        expanded = _MACRO.sub(one, spec).rstrip(".").lower()
        if "%" in _MACRO.sub("", spec):
            raise _Error(PERMERROR)  # a lone "%" that is not a macro
        while len(expanded) > 253 and "." in expanded:  # section 7.3: drop leftmost labels
            expanded = expanded.split(".", 1)[1]
        return expanded

    def _macro_value(self, letter: str, domain: str) -> str:
        local, _, sender_domain = self.sender.rpartition("@")
        client = self.client
        values = {
            "s": self.sender,
            "l": local,
            "o": sender_domain,
            "d": domain,
            "h": self.helo,
            "p": "unknown",
            "v": "in-addr" if client.version == 4 else "ip6",
        }
        if letter == "i":
            if client.version == 4:
                return str(client)
            return ".".join(client.exploded.replace(":", ""))
        if letter in values:
            return values[letter]
        raise _Error(PERMERROR)  # c, r, t are for explanations only


def _valid_domain(domain: str) -> bool:
    """Section 4.3: a multi-label domain with no empty or over-long label."""
    labels = domain.rstrip(".").split(".")
    return len(labels) >= 2 and all(0 < len(label) <= 63 for label in labels)


def _parse(record: str) -> _Record:
    """Parse a whole record first, as section 4.6 requires (any syntax error is a
    permerror, even after a matching term)."""
    terms: list[_Term] = []
    redirect: str | None = None
    seen_modifiers: set[str] = set()
    for token in record.split()[1:]:
        qualifier = "+"
        qualified = token[0] in _QUALIFIERS
        if qualified:
            qualifier, token = token[0], token[1:]
        m = _NAME.match(token)
        if m is None:
            raise _Error(PERMERROR)
        name, rest = m.group(1), m.group(2)
        if rest.startswith("="):
            if qualified:
                raise _Error(PERMERROR)  # modifiers take no qualifier
            key = name.lower()
            if key in ("redirect", "exp"):
                if key in seen_modifiers or not rest[1:]:
                    raise _Error(PERMERROR)
                seen_modifiers.add(key)
                if key == "redirect":
                    redirect = rest[1:]
            continue  # unknown modifiers are ignored (section 6)
        terms.append(_mechanism(qualifier, name.lower(), rest))
    if any(t.name == "all" for t in terms):
        redirect = None  # section 6.1: "all" makes a redirect meaningless
    return _Record(tuple(terms), redirect)


def _mechanism(qualifier: str, name: str, rest: str) -> _Term:
    if name not in _MECHANISMS:
        raise _Error(PERMERROR)
    if name == "all":
        if rest:
            raise _Error(PERMERROR)
        return _Term(qualifier, name, None, None, 32, 128)
    if name in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise _Error(PERMERROR)
        try:
            network = ipaddress.ip_network(rest[1:], strict=False)
        except ValueError:
            raise _Error(PERMERROR) from None
        if network.version != (4 if name == "ip4" else 6):
            raise _Error(PERMERROR)
        return _Term(qualifier, name, None, network, 32, 128)
    if name in ("include", "exists"):
        if not rest.startswith(":") or len(rest) < 2:
            raise _Error(PERMERROR)
        return _Term(qualifier, name, rest[1:], None, 32, 128)
    # a, mx, ptr: [":" domain-spec] and, for a and mx, [/cidr4][//cidr6]
    domain: str | None = None
    if rest.startswith(":"):
        rest = rest[1:]
        if not rest:
            raise _Error(PERMERROR)
    elif rest and not rest.startswith("/"):
        raise _Error(PERMERROR)
    m = _DUAL_CIDR.match(rest)
    assert m is not None  # the pattern matches any string
    spec, cidr4, cidr6 = m.groups()
    if spec:
        domain = spec
    if (cidr4 or cidr6) and name == "ptr":
        raise _Error(PERMERROR)
    four = int(cidr4) if cidr4 else 32
    six = int(cidr6) if cidr6 else 128
    if four > 32 or six > 128 or (cidr4 is not None and four == 0 and cidr4 != "0"):
        raise _Error(PERMERROR)
    if domain is not None and "/" in domain:
        raise _Error(PERMERROR)
    return _Term(qualifier, name, domain, None, four, six)


# --- DMARC ------------------------------------------------------------------------------

DMARC_POLICIES = ("none", "quarantine", "reject")


def dmarc_policy(domain: str, txt: TxtLookup) -> str:
    """The ``p=`` of ``_dmarc.DOMAIN`` (RFC 7489 section 6.3): ``"none"``,
    ``"quarantine"`` or ``"reject"``; ``"norecord"`` when there is no usable
    record (none, several, or ``v=DMARC1`` missing); ``"temperror"`` when the
    lookup failed."""
    answer = txt(f"_dmarc.{domain}")
    if answer is None:
        return TEMPERROR
    records = [r for r in answer if r.replace(" ", "").startswith("v=DMARC1")]
    if len(records) != 1:
        return "norecord"
    tags = {}
    for part in records[0].split(";"):
        key, eq, value = part.strip().partition("=")
        if eq:
            tags[key.strip().lower()] = value.strip().lower()
    policy = tags.get("p")
    # An invalid or missing p= with a record present: treat as p=none (section 6.6.3).
    return policy if policy in DMARC_POLICIES else "none"


class SpfDmarc(Policy):
    """SPF at RCPT (optional refusal of ``fail``) and DMARC at the end of data.

    ``query_seconds`` is the time one DNS query takes; the queries an evaluation
    makes are added to ``Context.delay``. SPF is evaluated once per transaction
    (cached in the session's notes), DMARC once per message.
    """

    def __init__(
        self,
        txt: TxtLookup,
        addresses: AddressLookup,
        mx_hosts: MxLookup,
        *,
        reject_spf_fail: bool = False,
        dmarc: bool = True,
        defer_temperror: bool = True,
        query_seconds: float = 0.0,
    ) -> None:
        self.txt, self.addresses, self.mx_hosts = txt, addresses, mx_hosts
        self.reject_spf_fail = reject_spf_fail
        self.dmarc = dmarc
        self.defer_temperror = defer_temperror
        self.query_seconds = query_seconds
        # Both phases always: flags may be changed at run time.
        self.phases = frozenset({RCPT, END_OF_DATA})

    def spf(self, ctx: Context) -> SpfResult:
        """The SPF result of the current transaction, evaluated on first use."""
        notes = ctx.memo()
        key = id(self)
        identity = (ctx.client.ip, ctx.sender or "", ctx.helo)
        cached = notes.get(key)
        if isinstance(cached, tuple) and cached[0] == identity and isinstance(cached[1], SpfResult):
            return cached[1]
        result = evaluate_spf(
            ctx.client.ip,
            ctx.sender or "",
            ctx.helo,
            txt=self.txt,
            addresses=self.addresses,
            mx_hosts=self.mx_hosts,
        )
        ctx.delay += result.queries * self.query_seconds
        notes[key] = (identity, result)
        return result

    def check(self, phase: str, ctx: Context) -> Reply | None:
        if phase == RCPT:
            if self.reject_spf_fail and self.spf(ctx).result == FAIL:
                return replies.spf_fail(ctx.sender or "")
            return None
        if not self.dmarc:
            return None
        domain = domain_of(ctx.sender or "") or (ctx.helo or "").lower().rstrip(".")
        if not domain:
            return None
        spf = self.spf(ctx)
        policy = dmarc_policy(domain, self.txt)
        ctx.delay += self.query_seconds
        if spf.result == PASS:
            return None  # aligned by construction: DMARC passes
        if policy == TEMPERROR or (policy == "reject" and spf.result == TEMPERROR):
            return replies.dmarc_temperror(domain) if self.defer_temperror else None
        if policy == "reject":
            return replies.dmarc_rejected(domain)
        return None
