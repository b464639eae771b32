"""Prometheus metrics of a store, read from its status at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..live import PolicyStore

__all__ = ["StoreCollector"]


class StoreCollector:
    """Prometheus metrics read from the store at scrape time (no background updates)."""

    def __init__(self) -> None:
        self.store: PolicyStore | None = None  # set by the first scrape

    def collect(self) -> Iterable[Metric]:
        if self.store is None:
            return []
        status = self.store.status()
        now = time.time()
        reloads = CounterMetricFamily("policyctl_reloads", "Snapshots applied after the first load")
        reloads.add_metric([], status.reloads)
        failures = CounterMetricFamily(
            "policyctl_failures", "Refused file contents, by reason", labels=["reason"]
        )
        by_kind = dict(status.failures_by_kind)
        for reason, kind in (
            ("io", "source"),
            ("syntax", "syntax"),
            ("validation", "validation"),
            ("env", "env"),
            ("internal", "internal"),
            ("bundle", "bundle"),  # with trust: not signed as a whole, or a rollback
        ):
            failures.add_metric([reason], by_kind.get(kind, 0))
        version = GaugeMetricFamily("policyctl_policy_version", "version of the policy served")
        version.add_metric([], status.current_version)
        last = GaugeMetricFamily(
            "policyctl_last_success_timestamp_seconds", "When the served snapshot was loaded"
        )
        last.add_metric([], status.last_success.timestamp())
        since = GaugeMetricFamily(
            "policyctl_seconds_since_last_success",
            "Age of the snapshot served: seconds since it was loaded. It grows while the file is"
            " unchanged, which is healthy; alert on policyctl_refused_seconds > 0 instead",
        )
        since.add_metric([], max(0.0, now - status.last_success.timestamp()))
        refused = GaugeMetricFamily(
            "policyctl_refused_seconds",
            "Seconds the file's current content has been refused (0 when healthy)",
        )
        refused.add_metric(
            [], max(0.0, now - status.refused_since.timestamp()) if status.refused_since else 0.0
        )
        # Each brake metric also under its first name (override), for existing dashboards.
        active, old_active = (
            GaugeMetricFamily(name, "Brakes in force in the policy served")
            for name in ("policyctl_active_brakes", "policyctl_active_overrides")
        )
        remaining, old_remaining = (
            GaugeMetricFamily(name, "Seconds until each active brake lifts", labels=["name"])
            for name in (
                "policyctl_brake_seconds_remaining",
                "policyctl_override_seconds_remaining",
            )
        )
        brakes = [b for b in status.brakes if b.kind == "brake"]
        for family in (active, old_active):
            family.add_metric([], len(brakes))
        for brake in brakes:
            for family in (remaining, old_remaining):
                family.add_metric([brake.name], max(0.0, brake.ends.timestamp() - now))
        adjustments = [b for b in status.brakes if b.kind == "adjustment"]
        adjusted = GaugeMetricFamily(
            "policyctl_active_adjustments",
            "Temporary adjustments in force (they may loosen) in the policy served",
        )
        adjusted.add_metric([], len(adjustments))
        reverts = GaugeMetricFamily(
            "policyctl_adjustment_seconds_remaining",
            "Seconds until each temporary adjustment in force reverts",
            labels=["name"],
        )
        for adjustment in adjustments:
            reverts.add_metric([adjustment.name], max(0.0, adjustment.ends.timestamp() - now))
        sent = GaugeMetricFamily(
            "policyctl_sent_brake",
            "A brake in force that was sent (signed, POSTed), not read from git (always 1):"
            " alert when one stays unreconciled",
            labels=["name"],
        )
        for name in status.sent_brakes:
            sent.add_metric([name], 1)
        env = GaugeMetricFamily(
            "policyctl_env_override",
            "A field this process's QT_* environment changed (1), by its direction against the"
            " file: alert on loosens",
            labels=["field", "direction"],
        )
        for name in status.env:
            env.add_metric([name, status.env_directions.get(name, "loosens")], 1)
        info = GaugeMetricFamily(
            "policyctl_policy_info",
            "What this replica serves (always 1): count replicas by digest to see them agree",
            labels=["version", "digest", "commit"],
        )
        info.add_metric([str(status.current_version), status.digest, status.commit or ""], 1)
        bundle = GaugeMetricFamily(
            "policyctl_bundle_info",
            "The verified signed bundle served (always 1; none without trust): its version,"
            " commit and signing key",
            labels=["version", "commit", "keyid"],
        )
        expiry = GaugeMetricFamily(
            "policyctl_bundle_expiry_timestamp_seconds",
            "When the bundle served stops being vouched for (Unix time): alert before it",
        )
        stale = GaugeMetricFamily(
            "policyctl_bundle_stale",
            "1 while the bundle served is past its expiry: still served, no longer vouched for",
        )
        if status.bundle is not None:
            signed = status.bundle
            bundle.add_metric([str(signed.version), signed.commit or "", signed.keyid], 1)
            expiry.add_metric([], signed.expires_at.timestamp())
            stale.add_metric([], 1 if status.stale else 0)
        logged = CounterMetricFamily(
            "policyctl_decisions_logged", "Decisions written to the decision log (store.decide)"
        )
        logged.add_metric([], status.decisions_logged)
        dropped = CounterMetricFamily(
            "policyctl_decisions_dropped",
            "Decisions not logged: the log's queue was full, or a write failed. Alert on any",
        )
        dropped.add_metric([], status.decisions_dropped)
        return [
            reloads, failures, version, last, since, refused, active, remaining, info, logged,
            dropped, old_active, old_remaining, env, bundle, expiry, stale, sent, adjusted,
            reverts,
        ]  # fmt: skip
