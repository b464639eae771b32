"""``policyctl propose`` (a change as a commit on a branch) and ``policyctl lane`` (which lane a
change goes through: ``auto`` may merge without the risk desk, ``review`` waits for it)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..edit import read_set_value
from ..errors import PolicySourceError, printable
from ..model import parse_path
from ..pipeline import read_source
from ..propose import ProposalInterrupted, propose, refresh_proposal
from ._changes import describe_change
from ._escape import err, out
from ._exit import EXIT_INTERRUPTED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from ..propose import Proposal

__all__ = ["add_arguments", "made", "report_proposal", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "words",
        nargs="*",
        metavar="PATH=VALUE",
        help="the changes, as set takes them (risk_mode=DEFENSIVE 'model_versions.lstm=\"3.11\"')",
    )
    p.add_argument("-m", "--message", help="why (required): the commit message")
    p.add_argument("--from-json", metavar="FILE", help="changes as a JSON object {PATH: VALUE}")
    p.add_argument("--base", default="main", help="the branch to propose against (main)")
    p.add_argument("--remote", default="origin", help="where to push (origin)")
    p.add_argument("--branch", help="the new branch's name (default: policy/proposal-...)")
    p.add_argument("--author", help="'Name <email>': the component or person proposing")
    p.add_argument("--repo", default=".", help="the repository (default: here)")
    p.add_argument("--no-push", action="store_true", help="leave the branch here, unpushed")
    p.add_argument("--refresh", metavar="BRANCH", help="re-apply a proposal on its moved base")
    p.add_argument("--format", choices=("text", "json"), default="text")


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if args.from_json:
        try:  # a regular file, bounded and never blocking (/dev/zero, a FIFO): as a policy is
            loaded = json.loads(read_source(Path(args.from_json)).decode("utf-8"))
        except PolicySourceError as e:
            reason = e.issues[0].message.replace("the policy file", "the file")
            raise UsageError(f"--from-json {printable(args.from_json)}: {reason}") from None
        except (ValueError, RecursionError) as e:
            raise UsageError(f"--from-json {printable(args.from_json)}: {e}") from None
        if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
            raise UsageError('--from-json takes a JSON object: {"opp_rankings": {...}}')
        changes.update(loaded)
    for word in args.words:
        path, equals, text = word.partition("=")
        if not equals or not path:
            raise UsageError(f"{printable(word)!r}: a change is PATH=VALUE (risk_mode=DEFENSIVE)")
        changes[path] = read_set_value("<command line>", parse_path(path).parts, text, "propose")
    return changes


def run(args: argparse.Namespace) -> int:
    push = not args.no_push
    if args.refresh:
        if args.words or args.from_json:
            raise UsageError("--refresh BRANCH re-applies that proposal; give no changes with it")
        branch = args.refresh
        return made(
            lambda: refresh_proposal(branch, repo=args.repo, remote=args.remote, push=push),
            args.format,
        )
    if not args.message:
        raise UsageError('a proposal needs -m "why" (its commit message)')
    changes = _changes(args)
    if not changes:
        raise UsageError("propose takes PATH=VALUE... or --from-json FILE")
    return made(
        lambda: propose(
            changes,
            message=args.message,
            repo=args.repo,
            base=args.base,
            remote=args.remote,
            branch=args.branch,
            author=args.author,
            push=push,
        ),
        args.format,
    )


def made(make: Callable[[], Proposal], fmt: str) -> int:
    """Make a proposal and report it; Ctrl-C is said as what it left: nothing (before the
    push), or the proposal and whether the remote holds it (during the push)."""
    try:
        result = make()
    except ProposalInterrupted as e:
        where = f"{printable(e.proposal.remote)} {printable(e.proposal.branch)}"
        if e.landed is False:  # a local branch, not made
            err("interrupted: the branch was not made; nothing was left behind")
            return EXIT_INTERRUPTED
        report_proposal(e.proposal, fmt)  # its branch, landed or maybe: always named
        if e.landed:
            err("interrupted: the push had started and was let finish; the proposal is pushed")
        else:
            err(
                "interrupted during the push: the remote does not hold it now, but its server"
                f" may still finish it; check: git ls-remote {where}; remove it if it lands:"
                f" git push {printable(e.proposal.remote)} --delete"
                f" {printable(e.proposal.branch)}"
            )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        err("interrupted before the push: nothing was pushed, nothing is left behind")
        return EXIT_INTERRUPTED
    report_proposal(result, fmt)
    return EXIT_OK


def report_proposal(result: Proposal, fmt: str) -> None:
    if fmt == "json":
        out(
            json.dumps(
                {
                    "branch": result.branch,
                    "commit": result.commit,
                    "base": result.base,
                    "base_commit": result.base_commit,
                    "changes": [c.to_json() for c in result.changes],
                    "lane": result.lane,
                    "reasons": list(result.reasons),
                    "brakes": list(result.brakes),
                    "adjustments": list(result.adjustments),
                    "pushed": result.pushed,
                    "remote": result.remote,
                },
                indent=2,
            )
        )
        return

    where = f"pushed to {printable(result.remote)}" if result.pushed else "not pushed"
    out(
        f"proposed on branch {printable(result.branch)} (commit {result.commit[:12]}, on"
        f" {printable(result.base)} at {result.base_commit[:12]}), {where}"
    )
    for kind, names in (("brake", result.brakes), ("adjustment", result.adjustments)):
        for name in names:
            out(f"  {kind} {printable(name)} added")
    for change in result.changes:
        out(f"  {change.direction:<9} {describe_change(change)}")
    meaning = {
        "auto": "nothing loosens: it may merge without the risk desk",
        "review": "it waits for the risk desk",
    }
    out(f"lane: {result.lane} ({meaning.get(result.lane, '')})")
    for reason in result.reasons:
        out(f"  {printable(reason)}")
    if result.pushed:
        out(
            f"open the pull request: gh pr create --base {printable(result.base)}"
            f" --head {printable(result.branch)} --fill"
        )
    else:
        out(f"push it when ready: git push {printable(result.remote)} {printable(result.branch)}")
