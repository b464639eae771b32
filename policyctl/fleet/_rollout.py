"""Which replicas serve which policy: every replica's ``/api/policy/status``, read concurrently
and judged against the digest they should serve.

A replica is ``current`` when it serves the expected digest; ``refusing`` when it serves
another and reports a refused file; ``behind`` when it serves another without an error (the new
file has not reached it yet); ``unreachable`` when it does not answer with a status. Everything
a replica answers is data: bounded in size, checked in shape, never trusted further.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from ..errors import printable
from ..model import MAX_VERSION

__all__ = [
    "NO_ANSWER",
    "Expected",
    "ReplicaState",
    "State",
    "exchange",
    "fan_out",
    "poll",
    "poll_all",
    "replicas_from_text",
]

State = Literal["current", "behind", "refusing", "unreachable"]
T = TypeVar("T")
_MAX_ANSWER = 256 * 1024
_DIGEST = re.compile(r"[0-9a-f]{64}")
NO_ANSWER = "no answer within the deadline"


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """One replica, as last seen."""

    url: str
    state: State
    version: int | None = None
    digest: str | None = None
    age_seconds: float | None = None
    why: str = ""


def exchange(
    url: str, timeout: float, *, path: str = "/api/policy/status", body: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    """One request to a replica (a GET, or a POST of ``body``) and its JSON answer with its
    status: no redirect followed (a replica that points elsewhere is not the one asked),
    bounded in size, headers and nesting.

    Raises:
        ValueError, OSError: No usable answer (unreachable, not HTTP, not a JSON object).
    """
    parts = urllib.parse.urlsplit(url.rstrip("/") + path)
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parts.netloc, timeout=timeout)
    try:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        connection.request("GET" if body is None else "POST", parts.path, body, headers)
        response = connection.getresponse()
        if 300 <= response.status < 400:
            raise ValueError(f"HTTP {response.status} (redirects are not followed)")
        answer = response.read(_MAX_ANSWER + 1)
    except http.client.HTTPException as e:  # not HTTP, too many or too long headers
        raise ValueError(f"not an HTTP answer ({type(e).__name__})") from None
    finally:
        connection.close()
    if len(answer) > _MAX_ANSWER:
        raise ValueError("answer too large")
    try:
        data = json.loads(answer)
    except RecursionError:
        raise ValueError("the answer is nested too deep") from None
    except ValueError:
        raise ValueError(f"HTTP {response.status}, not a JSON answer") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return response.status, data


def _fetch(url: str, timeout: float) -> dict[str, Any]:
    """The replica's status (HTTP 200 only)."""
    status, data = exchange(url, timeout)
    if status != 200:
        raise ValueError(f"HTTP {status}")
    return data


def fan_out(
    urls: Sequence[str],
    call: Callable[[str, float], T],
    missing: Callable[[str], T],
    timeout: float,
    deadline: float,
) -> list[T]:
    """``call(url, timeout)`` for every url at once, each on a thread of its own (at most 256
    at a time), all done by ``deadline`` (``time.monotonic()``). A url without an answer by
    then (a slow header, an endless body) gets ``missing(url)``: its thread is a daemon, left to
    end with its socket's timeout, and never holds the caller up."""
    results: dict[int, T] = {}
    slots = threading.BoundedSemaphore(256)

    def one(index: int, url: str) -> None:
        try:
            results[index] = call(url, max(0.05, min(timeout, deadline - time.monotonic())))
        finally:
            slots.release()

    threads = []
    for index, url in enumerate(urls):
        if not slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            break
        thread = threading.Thread(target=one, args=(index, url), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [results[i] if i in results else missing(url) for i, url in enumerate(urls)]


@dataclass(frozen=True, slots=True)
class Expected:
    """What a replica should serve: the policy file's digest, and (for a revision) the brakes
    active in it now and every file of its bundle, so that a replica missing a brake is
    ``behind``, not ``current``.

    Attributes:
        digest: sha256 of the policy file.
        brakes: The names of the brakes and adjustments active now at the revision; None:
            not compared.
        files: Bundle path -> sha256 of each file at the revision (the policy and its brake
            files), compared with a replica's signed bundle when it serves one; None: not.
        brake: A brake that must be in force (a sent one: ``--expect-brake``); with an empty
            ``digest``, the only thing compared.
    """

    digest: str
    brakes: frozenset[str] | None = None
    files: Mapping[str, str] | None = None
    brake: str | None = None


def _names(data: dict[str, Any], key: str) -> set[object]:
    """The names in a status answer's list ``key`` (``brakes``, ``adjustments``); none when the
    answer has no such list."""
    listed = data.get(key)
    if not isinstance(listed, list):
        return set()
    return {b.get("name") for b in listed if isinstance(b, dict)}


def _differs(data: dict[str, Any], expect: Expected) -> str | None:
    """Why a replica serving the expected policy file is still behind: its brakes, or its
    signed bundle's files, are not the revision's. None when they are."""
    if expect.brakes is not None:
        served = _names(data, "brakes") | _names(data, "adjustments")
        missing, extra = sorted(expect.brakes - served), sorted(served - expect.brakes, key=str)
        if missing or extra:
            # An adjustment the revision no longer has in force and a replica still serves is
            # a revert that has not landed: named as such.
            kind = dict.fromkeys(_names(data, "adjustments"), "adjustment")
            parts = [f"brake {printable(str(n))[:64]} missing" for n in missing]
            parts += [
                f"{kind.get(n, 'brake')} {printable(str(n))[:64]} not in the revision"
                + (" (not reverted)" if n in kind else "")
                for n in extra
            ]
            return ", ".join(parts[:4])
    bundle = data.get("bundle")
    files = bundle.get("files") if isinstance(bundle, dict) else None
    if expect.files is not None and files is not None and files != dict(expect.files):
        return "serves a signed bundle whose files are not the revision's"
    return None


def poll(url: str, expect: str | Expected, timeout: float = 2.0) -> ReplicaState:
    """One replica's state against what it should serve (a digest, or `Expected`)."""
    expected = Expected(expect) if isinstance(expect, str) else expect
    if not url.startswith(("http://", "https://")):  # never file: or any other scheme
        return ReplicaState(url, "unreachable", why="not an http(s) URL")
    try:
        data = _fetch(url, timeout)
    except (OSError, ValueError) as e:
        return ReplicaState(url, "unreachable", why=printable(str(e))[:200])
    digest = data.get("digest")
    version = data.get("version")
    if not (
        isinstance(digest, str)
        and _DIGEST.fullmatch(digest)
        and type(version) is int
        and 1 <= version <= MAX_VERSION
    ):
        return ReplicaState(url, "unreachable", why="the answer is not a policyctl status")
    age = None
    loaded = data.get("loaded_at")
    if isinstance(loaded, str):
        try:
            when = datetime.fromisoformat(loaded.replace("Z", "+00:00"))
            if when.tzinfo is not None:  # a time without its zone is no moment
                age = (datetime.now(UTC) - when).total_seconds()
        except (ValueError, OverflowError):
            age = None
    if expected.brake is not None:
        if expected.brake not in _names(data, "brakes"):
            missing = f"brake {printable(expected.brake)[:64]} is not in force"
            return ReplicaState(url, "behind", version, digest, age, missing)
        if not expected.digest:
            return ReplicaState(url, "current", version, digest, age)
    if digest == expected.digest:
        differs = _differs(data, expected)
        if differs is None:
            return ReplicaState(url, "current", version, digest, age)
        return ReplicaState(url, "behind", version, digest, age, differs)
    error = data.get("last_error")
    if isinstance(error, dict):
        message = printable(str(error.get("message", ""))[:200])
        return ReplicaState(url, "refusing", version, digest, age, f"refuses the file: {message}")
    return ReplicaState(url, "behind", version, digest, age, "serves an older policy")


def poll_all(
    urls: Sequence[str],
    expect: str | Expected,
    timeout: float = 2.0,
    deadline: float | None = None,
) -> list[ReplicaState]:
    """Every replica at once, all done by ``deadline`` (``time.monotonic()``; default:
    ``timeout`` from now); one that has not answered by then is ``unreachable``."""
    deadline = time.monotonic() + timeout if deadline is None else deadline
    return fan_out(
        urls,
        lambda url, left: poll(url, expect, left),
        lambda url: ReplicaState(url, "unreachable", why=NO_ANSWER),
        timeout,
        deadline,
    )


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
