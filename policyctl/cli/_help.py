"""The command line's words: the general help, each command's examples, and the argument
types that turn a bad value into a usage error instead of a surprise."""

from __future__ import annotations

import argparse
import math
import re
from datetime import UTC, datetime, timedelta

__all__ = ["EXAMPLES", "GENERAL", "duration", "moment", "port", "positive", "seconds"]

GENERAL = """\
exit status: 0 success; 1 the policy is invalid or a check failed; 2 a usage error, or a file
or git revision that cannot be read; 3 an internal error (rerun with --debug).

VALUE (set, add, remove): written as in the file (YAML flow): 4, 0.02, DEFENSIVE, a list
'[BTCUSDT, ETHUSDT]', a map '{lstm: "3.11"}'. Text that looks like a number is quoted, as in the
file: '"3.10"' (unquoted, 3.10 would be the number 3.1, and is refused). Setting a whole map
replaces it; FIELD.KEY changes one entry.

FILE: default $QT_POLICY_FILE, else policy/policy.yaml, looked up in the current directory and
then at the root of the git repository. 'policyctl COMMAND --help' shows examples."""

EXAMPLE_LINES = {
    "validate": [
        "policyctl validate",
        "policyctl validate --format github a.yaml b.yaml",
        "cat policy.yaml | policyctl validate -",
    ],
    "show": ["policyctl show --explain", "QT_RISK_MODE=DEFENSIVE policyctl show --format json"],
    "get": [
        "policyctl get risk_mode",
        "policyctl get model_versions.lstm",
        "policyctl get 'allowed_symbols[0]'",
    ],
    "schema": [
        "policyctl schema --check",
        "policyctl schema --write",
        "policyctl schema --kind override",
    ],
    "set": [
        "policyctl set max_positions 4",
        "policyctl set model_versions.lstm 3.11",
        "policyctl set allowed_symbols '[BTCUSDT, ETHUSDT]' --dry-run",
        "policyctl set max_positions=3 global_min_confidence=0.8",
        "policyctl set 'allowed_strategies[0]' breakout",
    ],
    "reset": ["policyctl reset --dry-run", "policyctl reset --yes"],
    "add": ["policyctl add allowed_symbols SOLUSDT", "policyctl add allowed_strategies breakout"],
    "remove": ["policyctl remove allowed_symbols SOLUSDT --dry-run"],
    "unset": ["policyctl unset model_versions.lstm", "policyctl unset 'allowed_symbols[2]'"],
    "diff": [
        "policyctl diff",
        "policyctl diff HEAD^1 HEAD --require-bump --",
        "policyctl diff --base-file old.yaml --head-file new.yaml --format json",
    ],
    "log": ["policyctl log -n 5", "policyctl log --format json"],
    "watch": ["policyctl watch", "policyctl watch --poll 2 /mnt/nfs/policy.yaml"],
    "serve": ["policyctl serve --port 8000", "policyctl serve --host 0.0.0.0 --no-env"],
    "env": ["policyctl env", "policyctl env --format json"],
    "brake": [
        'policyctl brake risk_mode=DEFENSIVE max_positions=2 --for 90m --reason "CPI print"',
        "policyctl brake global_min_confidence=0.9 --from 2026-11-28T18:30:00Z --for 1h30m"
        ' --reason "rate decision" --name rate-decision',
        "policyctl brake list",
        "policyctl brake lift rate-decision",
        "policyctl brake prune --dry-run",
    ],
    "audit": [
        "policyctl audit --since 2026 --until 2027 --only loosens",
        "policyctl audit --since 2026 --statements origin/policy-evidence --trust deploy/trust"
        " --risk-desk alice,bob --format csv > audit-2026.csv",
        "policyctl audit --format json",
    ],
    "adjust": [
        'policyctl adjust max_positions=8 --for 3h --reason "index rebalance" --ticket RISK-1234',
        "policyctl adjust max_risk_per_trade=0.02 --from 2026-12-04T13:00:00Z --until"
        ' 2026-12-04T16:00:00Z --reason "rebalance" --ticket RISK-1234 --propose',
        "policyctl brake list",
        "policyctl brake lift rebalance",
    ],
    "replay": [
        "policyctl replay /var/log/trading/decisions.jsonl*",
        "policyctl replay policy/replay/ --base origin/main --pin-base --head HEAD"
        " --format markdown",
        "policyctl replay logs/ --fail-on loosen --strict",
        "policyctl replay --generate 100000 -o sample.jsonl.gz",
    ],
    "propose": [
        'policyctl propose risk_mode=DEFENSIVE max_positions=3 -m "desk: calmer into the FOMC"',
        'policyctl propose --from-json rankings.json -m "ranker: nightly" --author'
        " 'ranker <ranker@desk.example>'",
        "policyctl propose --refresh policy/proposal-20261128-093012-1a2b3c4-9f8e7d6c",
        'policyctl propose max_positions=4 -m "try" --no-push --format json',
    ],
    "lane": [
        "policyctl lane origin/main",
        "policyctl lane origin/main origin/policy/proposal-20261128-093012-1a2b3c4-9f8e7d6c",
        "policyctl lane HEAD^1 HEAD --format json",
    ],
    "bundle": [
        "policyctl bundle build --key ci-signing.pem --out bundle/",
        "policyctl bundle build policy/policy.yaml --key ci-signing.pem --expires-in 2d",
    ],
    "verify": [
        "policyctl verify bundle/ --trust trusted-keys/",
        "policyctl verify /etc/policy --trust /etc/policy-trust --format json",
    ],
    "rollout": [
        "policyctl rollout status http://10.0.0.7:8000 http://10.0.0.8:8000 --expect origin/main",
        "kubectl get pods -l app=trader -o json | policyctl rollout status - --port 8000"
        " --expect-digest SHA256 --timeout 60",
    ],
    "doctor": [
        "policyctl doctor",
        "policyctl doctor /etc/policy/policy.yaml --brakes-dir /etc/policy-overrides",
    ],
    "completion": [
        "policyctl completion bash > /etc/bash_completion.d/policyctl",
        "policyctl completion zsh > ~/.zfunc/_policyctl",
    ],
}
EXAMPLES = {
    name: "examples:\n" + "\n".join(f"  {line}" for line in lines)
    for name, lines in EXAMPLE_LINES.items()
}


def seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


def positive(text: str) -> int:
    number = int(text) if text.isascii() and text.isdigit() else 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number


def port(text: str) -> int:
    port = int(text) if text.isascii() and text.isdigit() else -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return port


_DURATION = re.compile(r"(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?")


def duration(text: str) -> timedelta:
    """``90m``, ``1h30m``, ``2d``: how long a brake lasts."""
    match = _DURATION.fullmatch(text.strip())
    if not match or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; write it like 90m or 1h30m")
    days, hours, minutes, secs = (int(g or 0) for g in match.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=secs)
    if span <= timedelta(0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration above 0")
    return span


def since(text: str) -> datetime:
    """The start of a period: ``2026``, ``2026-07``, ``2026-07-01`` (each from its first
    moment, UTC), or a UTC time as `moment` takes it."""
    match = re.fullmatch(r"(\d{4})(?:-(\d\d)(?:-(\d\d))?)?", text)
    if match is None:
        return moment(text)
    year, month, day = (int(g) if g else 1 for g in match.groups())
    if year < 1970:
        raise argparse.ArgumentTypeError(f"{text!r}: git keeps no history before 1970")
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a real date") from None


def moment(text: str) -> datetime:
    """An RFC 3339 UTC timestamp (``2026-11-28T18:30:00Z``), or ``now``."""
    if text == "now":
        return datetime.now(UTC)
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a UTC time; write it like 2026-11-28T18:30:00Z (the Z is UTC)"
        )
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a real date and time") from None
