"""Each figure of `smtpsim.plots` on real result tables: what is drawn matches the
tables (docs/results.md, "Plots")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from smtpsim.metrics.result import RunResult
from smtpsim.plots import (
    bounces_by_dsn,
    deferral_counts,
    deferrals_over_time,
    delay_breakdown,
    delay_cdf,
    delay_components,
    level_bins,
    outcomes_over_time,
    queue_sizes,
)
from smtpsim.plots._common import DurationLocator


def axes() -> Axes:
    return Figure().add_subplot()


def line(ax: Axes, gid: str):
    found = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(found) == 1, [ln.get_gid() for ln in ax.get_lines()]
    return found[0]


def bars(ax: Axes, name: str) -> np.ndarray:
    """Heights of the bar container whose label starts with ``name``."""
    found = [
        c for c in ax.containers if isinstance(c, BarContainer) and c.get_label().startswith(name)
    ]
    assert len(found) == 1, [c.get_label() for c in ax.containers]
    return np.array([p.get_height() for p in found[0].patches])


def spans(ax: Axes) -> list[tuple[str, float, float]]:
    """The shaded incident windows: (gid, x0, x1) in axis units."""
    out = []
    for patch in ax.patches:
        gid = patch.get_gid() or ""
        if gid.startswith("incident:"):
            # a Rectangle (matplotlib >= 3.9) or a Polygon: its outline in data x
            xs = patch.get_path().transformed(patch.get_patch_transform()).vertices[:, 0]
            out.append((gid, float(np.min(xs)), float(np.max(xs))))
    return out


def status_of(result: RunResult) -> pd.Series:
    return result.recipients["status"].astype(str)


def not_bounces(result: RunResult) -> pd.DataFrame:
    origin = result.messages.set_index("msg_id")["origin"].astype(str)
    r = result.recipients
    return r[(origin.loc[r["msg_id"]] != "bounce").to_numpy()]


# --- delay CDF --------------------------------------------------------------------------


def test_cdf_has_a_log_axis_and_ends_at_the_delivered_share(quick: RunResult) -> None:
    ax = delay_cdf(quick.recipients, quick.messages, ax=axes())
    assert ax.get_xscale() == "log"
    staff = line(ax, "cdf:staff")
    rcpts = not_bounces(quick)
    delivered = rcpts["status"].astype(str) == "delivered"
    assert 0.9 < delivered.mean() < 1.0  # quickstart's 1 % unknown users
    assert staff.get_ydata()[-1] == pytest.approx(delivered.mean())
    assert staff.get_xdata()[-1] == pytest.approx(rcpts.loc[delivered, "delay_s"].max())
    assert np.all(np.diff(staff.get_ydata()) >= 0)
    # ticks are labelled as durations
    assert any(
        t.get_text().endswith(" s") or t.get_text().endswith(" ms") for t in ax.get_xticklabels()
    )


def test_cdf_by_domain_shows_the_cut_off_domain(outage: RunResult) -> None:
    ax = delay_cdf(outage.recipients, outage.messages, by="domain", ax=axes())
    rcpts = not_bounces(outage)
    delivered = rcpts["status"].astype(str) == "delivered"
    shares = delivered.groupby(rcpts["domain"].astype(str)).mean()
    assert set(shares.index) == {"bigmail.example", "smallorg.example", "partner.example"}
    for domain, share in shares.items():
        assert line(ax, f"cdf:{domain}").get_ydata()[-1] == pytest.approx(share)
    assert line(ax, "cdf:all").get_ydata()[-1] == pytest.approx(delivered.mean())
    assert shares["smallorg.example"] < 0.8 < shares["bigmail.example"]
    # the recipients of smallorg.example delivered after the outage waited minutes
    assert line(ax, "cdf:smallorg.example").get_xdata()[-1] > 300


def test_cdf_leaves_bounce_messages_out_unless_asked(quick: RunResult) -> None:
    gids = {
        ln.get_gid() for ln in delay_cdf(quick.recipients, quick.messages, ax=axes()).get_lines()
    }
    assert gids == {"cdf:staff"}
    ax = delay_cdf(quick.recipients, quick.messages, include_bounces=True, ax=axes())
    bounce_ids = quick.messages.loc[quick.messages["origin"].astype(str) == "bounce", "msg_id"]
    bounce_rcpts = quick.recipients[quick.recipients["msg_id"].isin(bounce_ids)]
    assert len(bounce_rcpts) > 0
    share = (bounce_rcpts["status"].astype(str) == "delivered").mean()
    assert line(ax, "cdf:bounce").get_ydata()[-1] == pytest.approx(share)
    assert line(ax, "cdf:all").get_ydata()[-1] == pytest.approx(
        (status_of(quick) == "delivered").mean()
    )


def test_cdf_counts_messages_from_the_warmup_on(quick: RunResult) -> None:
    ax = delay_cdf(quick.recipients, quick.messages, by=None, warmup=300.0, ax=axes())
    submit = quick.messages.set_index("msg_id")["t_submit"]
    rcpts = not_bounces(quick)
    rcpts = rcpts[(submit.loc[rcpts["msg_id"]] >= 300.0).to_numpy()]
    y = line(ax, "cdf:all recipients").get_ydata()
    assert y[-1] == pytest.approx((rcpts["status"].astype(str) == "delivered").mean())
    assert len(y) == (rcpts["status"].astype(str) == "delivered").sum() + 1


# --- outcomes per interval --------------------------------------------------------------


def test_outcome_bins_sum_to_the_summary_counts(outage: RunResult) -> None:
    ax = outcomes_over_time(
        outage.recipients,
        outage.messages,
        until=2400.0,
        incidents=outage.meta["incidents"],
        ax=axes(),
    )
    status = not_bounces(outage)["status"].astype(str)
    expected = {s: int((status == s).sum()) for s in ("delivered", "bounced", "expired")}
    assert min(expected.values()) > 0, expected
    assert expected == {s: outage.summary()["recipients"][s] for s in expected}
    for name, count in expected.items():
        heights = bars(ax, name)
        assert len(heights) == 40  # 2400 s in bins of 1 min
        assert heights.sum() == count
    # deferred attempts are not recipients: never in this stack
    assert not any(c.get_label().startswith(("lost", "deferred")) for c in ax.containers)
    assert ax.get_xlabel() == "time since the start of the run (min)"
    assert ax.get_xlim() == pytest.approx((0.0, 40.0))
    assert spans(ax) == [("incident:link-down", pytest.approx(5.0), pytest.approx(30.0))]


def test_deferrals_have_their_own_panel_by_sending_host(outage: RunResult) -> None:
    ax = deferrals_over_time(outage.attempts, outage.messages, until=2400.0, ax=axes())
    ids = set(not_bounces(outage)["msg_id"])
    a = outage.attempts
    deferred = a[(a["outcome"].astype(str) == "deferred") & a["msg_id"].isin(ids)]
    assert len(deferred) > 0
    for host, n in deferred["host"].astype(str).value_counts().items():
        assert bars(ax, f"deferred by {host} ").sum() == n


def test_deferral_counts_with_a_chosen_bin(outage: RunResult) -> None:
    counts = deferral_counts(outage.attempts, outage.messages, until=2400.0, bin_s=600.0)
    assert list(counts["t_start"]) == [0.0, 600.0, 1200.0, 1800.0]
    ids = set(not_bounces(outage)["msg_id"])
    a = outage.attempts
    deferred = a[(a["outcome"].astype(str) == "deferred") & a["msg_id"].isin(ids)]
    per_bin = counts.drop(columns=["t_start", "t_end"]).sum(axis=1)
    assert per_bin[1] == ((deferred["t_end"] >= 600) & (deferred["t_end"] < 1200)).sum()
    assert per_bin[0] == (deferred["t_end"] < 600).sum()


def test_long_runs_have_hours_on_the_time_axis(quick: RunResult) -> None:
    incident = {"kind": "dns-failure", "target": "bigmail.example", "start": 3600.0, "end": 7200.0}
    ax = outcomes_over_time(
        quick.recipients, quick.messages, until=4 * 3600.0, incidents=[incident], ax=axes()
    )
    assert ax.get_xlabel().endswith("(h)")
    assert ax.get_xlim() == pytest.approx((0.0, 4.0))
    assert spans(ax) == [("incident:dns-failure", pytest.approx(1.0), pytest.approx(2.0))]
    # a run of exactly 3 h still counts in minutes
    ax = outcomes_over_time(quick.recipients, quick.messages, until=3 * 3600.0, ax=axes())
    assert ax.get_xlabel().endswith("(min)")


def test_incidents_without_an_end_last_to_the_end_and_bad_ones_are_skipped(
    outage: RunResult,
) -> None:
    incidents = [
        {"kind": "host-down", "target": "mx1", "start": 600.0, "end": None},
        {"kind": "broken"},
        {"kind": "link-down", "start": "soon"},
    ]
    ax = queue_sizes(outage.levels, incidents=incidents, until=2400.0, ax=axes())
    assert spans(ax) == [("incident:host-down", pytest.approx(10.0), pytest.approx(40.0))]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "incident: host-down" in legend


# --- queue sizes ------------------------------------------------------------------------


def test_queue_lines_are_the_binned_levels(outage: RunResult) -> None:
    ax = queue_sizes(outage.levels, incidents=outage.meta["incidents"], until=2400.0, ax=axes())
    levels = outage.levels.assign(
        host=outage.levels["host"].astype(str), metric=outage.levels["metric"].astype(str)
    )
    deferred = levels[(levels["host"] == "out") & (levels["metric"] == "deferred")]
    deferred = deferred.sort_values("t", kind="stable")
    edges = np.arange(0.0, 2400.0 + 1, 30.0)  # 2400 s in at most 120 bins: 30 s
    mean, peak = level_bins(deferred["t"].to_numpy(), deferred["value"].to_numpy(), edges)
    drawn, drawn_max = line(ax, "queue:out:deferred"), line(ax, "queue-max:out:deferred")
    np.testing.assert_allclose(drawn.get_ydata(), np.repeat(mean, 2))
    np.testing.assert_allclose(drawn_max.get_ydata(), np.repeat(peak, 2))
    assert peak.max() == deferred["value"].max() > 100
    assert drawn.get_xdata()[0] == 0.0 and drawn.get_xdata()[-1] == pytest.approx(40.0)
    assert f"(peak {int(deferred['value'].max()):,})" in drawn.get_label()
    gids = {ln.get_gid() for ln in ax.get_lines() if ln.get_gid().startswith("queue:")}
    # hosts whose queues stayed empty, and connections, are not drawn
    busy = (
        levels[levels["metric"].isin(["active", "deferred"])]
        .groupby(["host", "metric"])["value"]
        .max()
    )
    assert gids == {f"queue:{h}:{m}" for (h, m), peak in busy.items() if peak > 0}
    assert spans(ax) == [("incident:link-down", pytest.approx(5.0), pytest.approx(30.0))]


def test_level_bins_weigh_each_value_by_the_time_it_held() -> None:
    # 0 until 10, 4 from 10 to 25, 1 from 25 on; bins of 20 s
    mean, peak = level_bins(
        np.array([10.0, 25.0]), np.array([4.0, 1.0]), np.array([0.0, 20.0, 40.0, 60.0])
    )
    np.testing.assert_allclose(mean, [(10 * 4) / 20, (5 * 4 + 15 * 1) / 20, 1.0])
    np.testing.assert_allclose(peak, [4.0, 4.0, 1.0])


def test_one_row_per_incident_so_labels_never_collide(quick: RunResult) -> None:
    incidents = [
        {"kind": "link-down", "target": "mx1", "start": 600.0, "end": 900.0},
        {"kind": "host-down", "target": "mx2", "start": 600.0, "end": 1200.0},
        {"kind": "link-down", "target": "mx1", "start": 1500.0, "end": 1600.0},
    ]
    ax = outcomes_over_time(
        quick.recipients, quick.messages, until=3600.0, incidents=incidents, ax=axes()
    )
    labels = [t for t in ax.texts if t.get_gid() == "incident-label"]
    assert sorted(t.get_text().strip() for t in labels) == ["host-down mx2", "link-down mx1"]
    heights = {t.get_position()[1] for t in labels}
    assert len(heights) == 2  # two rows: the repeated window shares its incident's row
    rows = [p for p in ax.patches if (p.get_gid() or "").startswith("incident-row:")]
    assert len(rows) == 3
    # the data stays below the rows
    top_bar = max(p.get_y() + p.get_height() for c in ax.containers for p in c.patches)
    assert top_bar < ax.get_ylim()[1] * min(heights) - 1e-9


def test_queue_sizes_for_chosen_hosts_and_metrics(quick: RunResult) -> None:
    ax = queue_sizes(quick.levels, hosts=["out"], metrics=["connections"], ax=axes())
    assert {ln.get_gid() for ln in ax.get_lines()} == {
        "queue:out:connections",
        "queue-max:out:connections",
    }


# --- bounces by DSN ---------------------------------------------------------------------


def test_one_bar_per_status_and_dsn_code_of_failed_recipients(outage: RunResult) -> None:
    ax = bounces_by_dsn(outage.recipients, outage.messages, ax=axes())
    rows = not_bounces(outage)
    failed = rows[rows["status"].astype(str).isin(["bounced", "expired"])]
    counts = failed.groupby([failed["status"].astype(str), failed["dsn"].astype(str)]).size()
    assert set(counts.index) == {("bounced", "5.1.1"), ("expired", "4.4.1")}
    patches = [p for p in ax.patches if p.get_gid() == "dsn-bars"]
    assert len(patches) == len(counts)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    drawn = {
        tuple(label.split()[:2]): p.get_width() for label, p in zip(labels, patches, strict=True)
    }
    assert drawn == counts.to_dict()
    assert "bounced  5.1.1  bad destination mailbox address" in labels
    # bounced and expired in their own colours, bounced on top
    assert labels[-1].startswith("bounced")
    colours = {
        label.split()[0]: p.get_facecolor() for label, p in zip(labels, patches, strict=True)
    }
    assert colours["bounced"] != colours["expired"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(text.startswith("expired: ") for text in legend)


def test_breakdown_hatches_bins_with_no_delivered_mail(outage: RunResult) -> None:
    ax = delay_breakdown(
        outage.recipients, outage.attempts, outage.messages, until=7200.0, ax=axes()
    )
    hatched = [p for p in ax.patches if p.get_gid() == "no-data"]
    # nothing was submitted after 2400 s: those bins have no mean, not a mean of 0
    assert len(hatched) > 0
    assert all(p.get_x() >= 40.0 - 1e-9 for p in hatched)  # minutes


# --- delay breakdown --------------------------------------------------------------------


def test_components_add_up_to_the_delay(outage: RunResult) -> None:
    parts = delay_components(outage.recipients, outage.attempts, outage.messages)
    delivered = not_bounces(outage)
    delivered = delivered[delivered["status"].astype(str) == "delivered"]
    assert len(parts) == len(delivered)
    assert parts["other_s"].abs().max() < 1e-6
    assert (parts["dns_s"] == 0).all() and (parts["greylist_wait_s"] == 0).all()
    late = parts[parts["delay_s"] > 300]
    assert len(late) > 0 and (late["domain"] == "smallorg.example").all()
    # they waited in the deferred queue for mx-small to come back
    assert (late["retry_wait_s"] > 0.5 * late["delay_s"]).all()
    assert (parts["connection_s"] > 0).all() and (parts["transfer_s"] > 0).all()


def test_breakdown_bars_stack_to_the_mean_delay(outage: RunResult) -> None:
    ax = delay_breakdown(
        outage.recipients,
        outage.attempts,
        outage.messages,
        until=2400.0,
        incidents=outage.meta["incidents"],
        ax=axes(),
    )
    stacked = sum(np.array([p.get_height() for p in c.patches]) for c in ax.containers)
    parts = delay_components(outage.recipients, outage.attempts, outage.messages)
    which = (parts["t_submit"] // 60).astype(int)
    mean = parts.groupby(which)["delay_s"].mean().reindex(range(40), fill_value=0.0)
    np.testing.assert_allclose(stacked, mean.to_numpy(), rtol=1e-6, atol=1e-9)
    labels = [c.get_label() for c in ax.containers]
    assert any(label.startswith("retry wait") for label in labels)
    assert not any(label.startswith(("greylisting", "DNS")) for label in labels)
    assert "DNS lookups are counted in connection" in ax.get_title()
    assert spans(ax) == [("incident:link-down", pytest.approx(5.0), pytest.approx(30.0))]


def _one_recipient(attempt_rows: list[dict], extra: dict | None = None) -> tuple:
    messages = pd.DataFrame(
        {
            "msg_id": [0],
            "sender": ["a@corp.example"],
            "size_bytes": [1000],
            "n_rcpt": [1],
            "t_submit": [0.0],
            "origin": ["staff"],
        }
    )
    last = attempt_rows[-1]["t_end"]
    recipients = pd.DataFrame(
        {
            "msg_id": [0],
            "rcpt": ["b@grey.example"],
            "domain": ["grey.example"],
            "status": ["delivered"],
            "t_final": [last],
            "delay_s": [last],
            "attempts": [2],
            "dsn": ["2.0.0"],
            "reply": ["delivered to mailbox"],
            "hops": [2],
        }
    )
    attempts = pd.DataFrame(
        [{"msg_id": 0, "rcpt": "b@grey.example", **row} for row in attempt_rows]
    )
    for column, values in (extra or {}).items():
        attempts[column] = values
    return recipients, attempts, messages


def test_greylisting_is_the_wait_after_a_420_and_dns_taken_out_when_known() -> None:
    rows = [
        dict(
            host="out",
            peer="mx",
            t_start=0.0,
            t_end=1.0,
            outcome="deferred",
            code=450,
            dsn="4.2.0",
            phase="rcpt",
            queue_s=0.0,
            conn_s=0.5,
            xfer_s=0.5,
        ),
        dict(
            host="out",
            peer="mx",
            t_start=301.0,
            t_end=302.0,
            outcome="deferred",
            code=451,
            dsn="4.3.0",
            phase="data",
            queue_s=301.0,
            conn_s=0.5,
            xfer_s=0.5,
        ),
        dict(
            host="out",
            peer="mx",
            t_start=602.0,
            t_end=603.0,
            outcome="sent",
            code=250,
            dsn="2.0.0",
            phase="content",
            queue_s=602.0,
            conn_s=0.5,
            xfer_s=0.5,
        ),
    ]
    recipients, attempts, messages = _one_recipient(rows)
    parts = delay_components(recipients, attempts, messages).iloc[0]
    assert parts["greylist_wait_s"] == 300.0 and parts["retry_wait_s"] == 300.0
    assert parts["connection_s"] == 1.5 and parts["transfer_s"] == 1.5
    assert parts["queue_wait_s"] == 0.0 and parts["other_s"] == pytest.approx(0.0)
    # with a DNS column, DNS is its own component and comes out of connection
    recipients, attempts, messages = _one_recipient(rows, {"dns_s": [0.2, 0.0, 0.0]})
    parts = delay_components(recipients, attempts, messages).iloc[0]
    assert parts["dns_s"] == pytest.approx(0.2)
    assert parts["connection_s"] == pytest.approx(1.3)
    ax = delay_breakdown(recipients, attempts, messages, ax=axes())
    labels = [c.get_label() for c in ax.containers]
    assert any(label.startswith("greylisting") for label in labels)
    assert any(label.startswith("DNS") for label in labels)
    assert "DNS lookups" not in ax.get_title()


def test_a_retry_lookup_before_t_start_is_not_counted_twice() -> None:
    # a retry whose DNS lookup (0.02 s) ran before the SMTP client got the delivery:
    # its connection time begins before t_start, and the retry wait ends there
    rows = [
        dict(
            host="out",
            peer="mx",
            t_start=0.0,
            t_end=0.02,
            outcome="deferred",
            code=451,
            dsn="4.4.3",
            phase="connect",
            queue_s=0.0,
            conn_s=0.02,
            xfer_s=0.0,
        ),
        dict(
            host="out",
            peer="mx",
            t_start=600.02,
            t_end=600.4,
            outcome="sent",
            code=250,
            dsn="2.0.0",
            phase="content",
            queue_s=600.0,
            conn_s=0.22,
            xfer_s=0.18,
        ),
    ]
    recipients, attempts, messages = _one_recipient(rows)
    parts = delay_components(recipients, attempts, messages).iloc[0]
    assert parts["retry_wait_s"] == pytest.approx(599.98)
    assert parts["connection_s"] == pytest.approx(0.24)
    assert parts["other_s"] == pytest.approx(0.0, abs=1e-9)


def test_duration_ticks_fall_on_round_durations() -> None:
    locator = DurationLocator()
    assert list(locator.tick_values(0, 12_000)) == [0, 3600, 7200, 10800]
    assert list(locator.tick_values(0, 3 * 3600 + 1200)) == [0, 3600, 7200, 10800]
    assert list(locator.tick_values(0, 400)) == [0, 120, 240, 360]
    assert list(locator.tick_values(0, 45)) == [0, 10, 20, 30, 40]
    small = np.asarray(locator.tick_values(0, 0.8))  # under 2 s: decimal steps
    assert np.allclose(small / 0.2, np.round(small / 0.2))


# --- empty tables -----------------------------------------------------------------------


def test_every_figure_draws_a_note_on_empty_tables(quick: RunResult) -> None:
    empty = {
        name: getattr(quick, name).iloc[0:0]
        for name in ("messages", "recipients", "attempts", "levels")
    }
    figures = [
        delay_cdf(empty["recipients"], empty["messages"], ax=axes()),
        outcomes_over_time(empty["recipients"], empty["messages"], ax=axes()),
        deferrals_over_time(empty["attempts"], empty["messages"], ax=axes()),
        queue_sizes(empty["levels"], ax=axes()),
        bounces_by_dsn(empty["recipients"], empty["messages"], ax=axes()),
        delay_breakdown(empty["recipients"], empty["attempts"], empty["messages"], ax=axes()),
    ]
    for ax in figures:
        notes = [t.get_text() for t in ax.texts if t.get_gid() == "note"]
        assert len(notes) == 1 and notes[0].startswith(("no ", "every")), notes
        assert ax.get_title()


def test_without_an_axes_a_figure_gets_its_own(quick: RunResult) -> None:
    ax = bounces_by_dsn(quick.recipients, quick.messages)
    assert isinstance(ax.figure, Figure) and ax.figure.axes == [ax]
