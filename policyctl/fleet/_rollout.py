"""Which replicas serve which policy: every replica's ``/api/policy/status``, read concurrently
and judged against the digest they should serve.

A replica is ``current`` when it serves the expected digest; ``refusing`` when it serves
another and reports a refused file; ``behind`` when it serves another without an error (the new
file has not reached it yet); ``unreachable`` when it does not answer with a status. Everything
a replica answers is data: bounded in size, checked in shape, never trusted further.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["ReplicaState", "State", "poll", "poll_all", "replicas_from_text"]

State = Literal["current", "behind", "refusing", "unreachable"]
_MAX_ANSWER = 256 * 1024
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """One replica, as last seen."""

    url: str
    state: State
    version: int | None = None
    digest: str | None = None
    age_seconds: float | None = None
    why: str = ""


def _fetch(url: str, timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(url.rstrip("/") + "/api/policy/status")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read(_MAX_ANSWER + 1)
    if len(body) > _MAX_ANSWER:
        raise ValueError("answer too large")
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("not a status object")
    return data


def poll(url: str, expect: str, timeout: float = 2.0) -> ReplicaState:
    """One replica's state against the ``expect``-ed digest."""
    if not url.startswith(("http://", "https://")):  # never file: or any other scheme
        return ReplicaState(url, "unreachable", why="not an http(s) URL")
    try:
        data = _fetch(url, timeout)
    except (OSError, ValueError, urllib.error.URLError) as e:
        reason = getattr(e, "reason", None) or e
        return ReplicaState(url, "unreachable", why=str(reason)[:200])
    digest = data.get("digest")
    version = data.get("version")
    if not (isinstance(digest, str) and _DIGEST.fullmatch(digest) and isinstance(version, int)):
        return ReplicaState(url, "unreachable", why="the answer is not a policyctl status")
    age = None
    loaded = data.get("loaded_at")
    if isinstance(loaded, str):
        try:
            when = datetime.fromisoformat(loaded.replace("Z", "+00:00"))
            age = (datetime.now(UTC) - when).total_seconds()
        except ValueError:
            age = None
    if digest == expect:
        return ReplicaState(url, "current", version, digest, age)
    error = data.get("last_error")
    if isinstance(error, dict):
        message = str(error.get("message", ""))[:200]
        return ReplicaState(url, "refusing", version, digest, age, f"refuses the file: {message}")
    return ReplicaState(url, "behind", version, digest, age, "serves an older policy")


def poll_all(urls: Sequence[str], expect: str, timeout: float = 2.0) -> list[ReplicaState]:
    """Every replica at once (one thread each, at most 32 at a time)."""
    with ThreadPoolExecutor(max_workers=min(32, max(1, len(urls)))) as pool:
        return list(pool.map(lambda u: poll(u, expect, timeout), urls))


def replicas_from_text(text: str, port: int) -> list[str]:
    """Replica URLs from a file or stdin: one URL per line (``#`` comments), or a Kubernetes
    list (``kubectl get pods -o json``), each pod at ``http://<podIP>:<port>``."""
    stripped = text.strip()
    if stripped.startswith("{"):
        document = json.loads(stripped)
        items = document.get("items", []) if isinstance(document, dict) else []
        urls = []
        for item in items:
            status = item.get("status", {}) if isinstance(item, dict) else {}
            ip = status.get("podIP") if isinstance(status, dict) else None
            if isinstance(ip, str) and re.fullmatch(r"[0-9a-fA-F.:]{2,45}", ip):
                host = f"[{ip}]" if ":" in ip else ip
                urls.append(f"http://{host}:{port}")
        return urls
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]
