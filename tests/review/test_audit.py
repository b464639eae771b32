"""policyctl audit: every row proved from a real repository built here, with real signed
statements (real openssl keys, `bundle build --review` at each commit): limit changes with
their direction, values, approvers, lane and justification, brakes and adjustments with their
windows and who ended them, separation-of-duties flags, totals; hostile text escaped in every
format (markdown, CSV formulas, terminals)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policyctl.cli import main

from ..support.bundle import openssl_keys
from ..support.git import git
from ..support.policy import VALID
from ..support.readme import documented

Capture = pytest.CaptureFixture[str]
STAMP = "%Y-%m-%dT%H:%M:%SZ"
HOUR = timedelta(hours=1)


@dataclass
class History:
    repo: Path
    statements: Path
    trust: Path
    shas: dict[str, str]


class _Builder:
    def __init__(self, root: Path) -> None:
        self.repo = root / "repo"
        (self.repo / "policy" / "overrides").mkdir(parents=True)
        git(self.repo, "init", "-q", "-b", "main")
        self.key, self.trust = openssl_keys(root)
        self.statements = root / "statements"
        self.statements.mkdir()
        self.shas: dict[str, str] = {}
        self.text = VALID

    def commit(
        self,
        label: str,
        when: datetime,
        author: str,
        message: str,
        *,
        edit: tuple[str, str] | None = None,
        files: dict[str, str | None] | None = None,
        review: dict[str, object] | None = None,
    ) -> None:
        if edit is not None:
            self.text = self.text.replace(*edit)
            self.text = self.text.replace(
                f"version: {self._version()}", f"version: {self._version() + 1}"
            )
        (self.repo / "policy" / "policy.yaml").write_text(self.text)
        for name, body in (files or {}).items():
            path = self.repo / "policy" / "overrides" / f"{name}.yaml"
            if body is None:
                path.unlink()
            else:
                path.write_text(body)
        stamp = when.strftime(STAMP)
        env = {
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-qm", message, "--allow-empty", env=env)
        sha = git(self.repo, "rev-parse", "HEAD")
        self.shas[label] = sha
        if review is not None:  # CI signs the merged commit's bundle, with its review record
            record = self.repo.parent / "review.json"
            record.write_text(json.dumps(review))
            out = self.repo.parent / "bundle"
            argv = ["bundle", "build", str(self.repo / "policy" / "policy.yaml")]
            argv += ["--key", str(self.key), "--out", str(out), "--review", str(record)]
            assert main(argv) == 0
            (self.statements / f"{sha}.dsse.json").write_bytes(
                (out / "statement.dsse.json").read_bytes()
            )

    def _version(self) -> int:
        line = next(x for x in self.text.splitlines() if x.startswith("version:"))
        return int(line.split(":")[1])


def _pr(number: int, author: str, approvers: list[str], lane: str, body: str) -> dict[str, object]:
    return {
        "known": True,
        "pull_request": number,
        "title": f"PR {number}",
        "author": author,
        "merged_at": "2026-03-01T10:00:00Z",
        "lane": lane,
        "justification": body,
        "approvers": [{"login": a, "at": "2026-03-01T09:00:00Z"} for a in approvers],
    }


def _adjustment(start: datetime, until: datetime, settings: str, reason: str) -> str:
    return (
        f"kind: adjustment\nreason: {json.dumps(reason)}\nticket: RISK-7\n"
        f'from: "{start.strftime(STAMP)}"\nuntil: "{until.strftime(STAMP)}"\nset: {settings}\n'
    )


def _brake(until: datetime, settings: str) -> str:
    return f'reason: "CPI"\nuntil: "{until.strftime(STAMP)}"\nset: {settings}\n'


HOSTILE = '=HYPERLINK("http://x")|`a`\x1b[2K\n| injected |\u200b\u2060'
HOSTILE_REASON = "@SUM(1+1)*cmd|' /C calc'!A0 | <b>injected</b> |"  # printable: a file allows it


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    b = _Builder(tmp_path_factory.mktemp("audit"))
    day = datetime(2026, 3, 1, 10, tzinfo=UTC)
    b.commit("init", day - timedelta(days=60), "Risk Desk", "the first policy")
    b.commit(
        "looser", day, "Alice", "positions: 5 -> 6\n\nMore room for the desk",
        edit=("max_positions: 5", "max_positions: 6"),
        review=_pr(12, "alice", ["bob"], "review", "Drawdown back under 3%: one more position"),
    )  # fmt: skip
    b.commit(
        "tighter", day + timedelta(days=1), "Bob", "calmer\n\nFOMC week",
        edit=("risk_mode: NORMAL", "risk_mode: DEFENSIVE"),
    )  # fmt: skip
    b.commit(
        "self", day + timedelta(days=2), "Carol", "risk per trade 0.01 -> 0.02",
        edit=("max_risk_per_trade: 0.01", "max_risk_per_trade: 0.02"),
        review=_pr(14, "carol", ["carol", "auto-bot"], "review", HOSTILE),
    )  # fmt: skip
    start = day + timedelta(days=3)
    b.commit(
        "adjust", start - timedelta(hours=1), "Dave", "rebalance",
        files={"rebalance": _adjustment(start, start + timedelta(hours=6), "{max_positions: 9}",
                                        HOSTILE_REASON)},
        review=_pr(15, "dave", ["bob"], "review", "index rebalance"),
    )  # fmt: skip
    b.commit(
        "lift", start + timedelta(hours=2), "Erin", "rebalance done early",
        files={"rebalance": None},
    )  # fmt: skip
    b.commit(
        "brake", day + timedelta(days=4), "Frank", "cpi brake",
        files={"cpi": _brake(day + timedelta(days=4, hours=2), "{max_positions: 2}")},
    )  # fmt: skip
    later = day + timedelta(days=5)
    b.commit(
        "adjust2", later, "Dave", "second rebalance",
        files={"second": _adjustment(later, later + 4 * HOUR, "{max_positions: 8}", "r2")},
        review=_pr(16, "dave", ["auto-bot"], "review", "second"),
    )  # fmt: skip
    b.commit(
        "extend", later + timedelta(hours=1), "Dave", "longer",
        files={"second": _adjustment(later, later + 8 * HOUR, "{max_positions: 8}", "r2")},
    )  # fmt: skip
    return History(b.repo, b.statements, b.trust, b.shas)


def _run(history: History, capsys: Capture, *extra: str) -> str:
    capsys.readouterr()
    argv = ["audit", str(history.repo / "policy" / "policy.yaml"), "--statements"]
    argv += [str(history.statements), "--trust", str(history.trust), "--bot", "auto-bot"]
    assert main([*argv, *extra]) == 0
    return capsys.readouterr().out


def test_every_limit_change_with_who_approved_it_and_why(
    history: History, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(history.repo)
    doc = json.loads(_run(history, capsys, "--format", "json", "--risk-desk", "bob"))
    assert doc["statements"] == {"verified": 4, "refused": []}
    assert set(doc) == documented("audit")
    assert all(set(c) == documented("audit change") for c in doc["changes"])
    assert all(set(o) == documented("audit override") for o in doc["overrides"])
    reviews = [c["review"] for c in doc["changes"]]
    assert {frozenset(r) for r in reviews} == {
        frozenset(documented("audit review")), frozenset({"known", "why"}),
    }  # fmt: skip
    rows = {c["commit"]: c for c in doc["changes"]}
    looser = rows[history.shas["looser"]]
    assert (looser["path"], looser["before"], looser["after"]) == ("max_positions", 5, 6)
    assert looser["direction"] == "loosens" and looser["author"] == "alice"
    assert looser["review"]["approvers"] == [{"login": "bob", "at": "2026-03-01T09:00:00Z"}]
    assert (looser["lane"], looser["lane_from"]) == ("review", "statement")
    assert looser["justification"] == "Drawdown back under 3%: one more position"
    assert looser["merged_at"] == "2026-03-01T10:00:00Z" and looser["in_force_at"] is not None
    assert looser["flags"] == []
    tighter = rows[history.shas["tighter"]]
    assert (tighter["path"], tighter["before"], tighter["after"]) == (
        "risk_mode", "NORMAL", "DEFENSIVE",
    )  # fmt: skip
    assert tighter["direction"] == "tightens" and tighter["author"] == "Bob"
    assert tighter["review"]["known"] is False and tighter["in_force_at"] is None  # never guessed
    assert (tighter["lane"], tighter["lane_from"]) == ("auto", "computed")
    assert tighter["justification"] == "calmer\n\nFOMC week"
    assert tighter["justification_from"] == "commit message"
    own = rows[history.shas["self"]]
    assert own["flags"] == [
        "approved by its own author",
        "loosened with no approval but its author's or the bot's",
    ]
    assert own["justification"] == HOSTILE  # JSON keeps it whole (escaped by JSON itself)
    # Brakes and adjustments: windows, who put them on, who lifted them, on time.
    overrides = {o["name"]: o for o in doc["overrides"]}
    rebalance = overrides["rebalance"]
    assert (rebalance["kind"], rebalance["ticket"], rebalance["put_on_by"]) == (
        "adjustment", "RISK-7", "dave",
    )  # fmt: skip
    assert rebalance["ended"] == "lifted early" and rebalance["lifted_by"] == "Erin"
    assert rebalance["ended_at"] == "2026-03-04T12:00:00Z" and rebalance["on_time"] is True
    assert rebalance["flags"] == []
    second = overrides["second"]
    assert second["extended"] == 1 and second["ended"] == "reverted at until"
    assert (
        second["until"] == "2026-03-06T18:00:00Z"
        and second["first_until"] == "2026-03-06T14:00:00Z"
    )
    assert second["flags"] == [
        "loosened with no approval but its author's or the bot's",
        f"{history.shas['extend'][:12]} extends it: loosened with no review record",
    ]
    cpi = overrides["cpi"]
    assert (cpi["kind"], cpi["ended"], cpi["put_on_by"]) == ("brake", "reverted at until", "Frank")
    assert cpi["review"]["known"] is False and cpi["flags"] == []
    assert doc["totals"] == {
        "changes": 3,
        "by_direction": {"loosens": 2, "tightens": 1},
        "by_lane": {"auto": 1, "review": 2},
        "brakes": 1,
        "adjustments": 2,
        "adjustments_reverted_on_time": 2,
        "adjustments_in_force": 0,
        "adjustments_extended": 1,
        "flagged": 2,
    }


def test_a_period_and_one_direction(
    history: History, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(history.repo)
    doc = json.loads(
        _run(history, capsys, "--format", "json", "--since", "2026-03-02", "--only", "loosens")
    )
    assert [c["commit"] for c in doc["changes"]] == [history.shas["self"]]
    assert {o["name"] for o in doc["overrides"]} == {"rebalance", "cpi", "second"}
    doc = json.loads(_run(history, capsys, "--format", "json", "--until", "2026-03-01T10:00:00Z"))
    assert doc["changes"] == [] and doc["overrides"] == []


def test_hostile_text_is_escaped_in_every_format(
    history: History, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(history.repo)
    markdown = _run(history, capsys)
    assert "\x1b" not in markdown and "| injected |" not in markdown and "<b>" not in markdown
    assert "\u200b" not in markdown and "\u2060" not in markdown  # invisible, so escaped
    assert "\\=HYPERLINK\\(" in markdown  # every markdown mark escaped, one line per row
    table = [line for line in markdown.splitlines() if line.startswith("| 2026-03-03")]
    assert len(table) == 1 and table[0].count(" | ") == 9  # ten cells, none injected
    rows = list(csv.DictReader(io.StringIO(_run(history, capsys, "--format", "csv"))))
    cells = [v for row in rows for v in row.values()]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in cells)
    assert '\'=HYPERLINK("http://x")|`a`\\x1b[2K\\n| injected |\\u200b\\u2060' in cells
    assert "'" + HOSTILE_REASON in cells
    assert {r["record"] for r in rows} == {"change", "brake", "adjustment"}
    assert "\x1b" not in _run(history, capsys, "--format", "json")


def test_statements_that_do_not_verify_are_refused_and_said(
    history: History, capsys: Capture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(history.repo)
    forged = tmp_path / "forged"
    forged.mkdir()
    for path in history.statements.iterdir():
        data = json.loads(path.read_text())
        data["payload"] = data["payload"][:-8] + "AAAAAAA="
        (forged / path.name).write_text(json.dumps(data))
    capsys.readouterr()
    argv = ["audit", "--statements", str(forged), "--trust", str(history.trust)]
    assert main([*argv, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["statements"]["verified"] == 0 and len(doc["statements"]["refused"]) == 4
    assert all(not c["review"]["known"] for c in doc["changes"])
    flagged = [c for c in doc["changes"] if c["direction"] == "loosens"]
    assert all(c["flags"] == ["loosened with no review record"] for c in flagged)
    assert main(["audit", "--statements", str(forged)]) == 2  # no keys: refused, not skipped
    assert "--trust" in capsys.readouterr().err


# --- odd histories (an outsider's findings): each row still what happened -----------------


class _Repo:
    """A repository whose commits carry given author and committer moments."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "policy" / "overrides").mkdir(parents=True)
        git(root, "init", "-q", "-b", "main")
        (root / "policy" / "policy.yaml").write_text(VALID)
        self.commit("2026-06-01T10:00:00Z", "init")

    def write(self, name: str, text: str | None) -> None:
        path = self.root / "policy" / name
        if text is None:
            path.unlink()
        else:
            path.write_text(text)

    def commit(
        self, when: str, message: str, author: str = "Alice", authored: str | None = None
    ) -> str:
        env = {"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_DATE": authored or when}
        env["GIT_COMMITTER_DATE"] = when
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", message, "--allow-empty", env=env)
        return git(self.root, "rev-parse", "HEAD")


def _audit_json(repo: Path, capsys: Capture, *extra: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["audit", str(repo / "policy" / "policy.yaml"), "--format", "json", *extra]) == 0
    return dict(json.loads(capsys.readouterr().out))


def _adjusted(until: str, settings: str = "{max_positions: 8}", start: str | None = None) -> str:
    begins = f'from: "{start}"\n' if start else ""
    return (
        f'kind: adjustment\nreason: "r"\nticket: "T-1"\n{begins}until: "{until}"\nset: {settings}\n'
    )


def test_a_change_after_an_invalid_commit_is_measured_against_the_last_valid_policy(
    tmp_path: Path, capsys: Capture
) -> None:
    r = _Repo(tmp_path)
    r.write("policy.yaml", VALID.replace("max_positions: 5", "max_positions: five"))
    broken = r.commit("2026-06-02T10:00:00Z", "broken")
    r.write("policy.yaml", VALID.replace("max_positions: 5", "max_positions: 9"))
    r.commit("2026-06-03T10:00:00Z", "fixed and loosened")
    doc = _audit_json(tmp_path, capsys)
    changes = doc["changes"]
    assert isinstance(changes, list)
    assert [(c["path"], c["before"], c["after"]) for c in changes] == [("max_positions", 5, 9)]
    notes = doc["notes"]
    assert isinstance(notes, list) and len(notes) == 2
    assert notes[0].startswith(f"{broken[:7]}: the policy file is not valid, so no store")
    assert "measured against the last valid policy" in notes[1]


def test_overrides_are_judged_when_they_landed_and_kinds_and_windows_followed(
    tmp_path: Path, capsys: Capture
) -> None:
    r = _Repo(tmp_path)
    # A brake with no from, authored over 7 days before its until, merged under 7 days
    # before: valid when it landed (the committer's time, not the author's date).
    r.write(
        "overrides/late.yaml",
        'reason: "b"\nuntil: "2026-06-09T09:00:00Z"\nset: {max_positions: 2}\n',
    )
    r.commit("2026-06-02T10:00:00Z", "late", "Bob", authored="2026-06-02T08:00:00Z")
    # An adjustment that becomes a brake: the adjustment ends there, a brake begins.
    r.write("overrides/swap.yaml", _adjusted("2026-06-10T13:00:00Z", start="2026-06-10T10:00:00Z"))
    r.commit("2026-06-10T10:00:00Z", "swap", "Bob")
    r.write(
        "overrides/swap.yaml",
        'reason: "b"\nuntil: "2026-06-11T11:00:00Z"\nset: {max_positions: 3}\n',
    )
    r.commit("2026-06-10T11:00:00Z", "swap is a brake now", "Dave")
    # Moved later before it started, then withdrawn before it started.
    r.write("overrides/moved.yaml", _adjusted("2026-06-20T20:00:00Z", start="2026-06-20T10:00:00Z"))
    r.commit("2026-06-15T10:00:00Z", "moved", "Bob")
    r.write("overrides/moved.yaml", _adjusted("2026-06-21T20:00:00Z", start="2026-06-21T10:00:00Z"))
    r.commit("2026-06-16T10:00:00Z", "moved later", "Bob")
    r.write("overrides/moved.yaml", None)
    r.commit("2026-06-17T10:00:00Z", "withdrawn", "Carol")
    # Extended past a day from its from: no store applies it (the file says 42 hours), noted.
    r.write("overrides/long.yaml", _adjusted("2026-07-01T20:00:00Z", start="2026-07-01T00:00:00Z"))
    r.commit("2026-07-01T00:00:00Z", "long", "Bob")
    r.write("overrides/long.yaml", _adjusted("2026-07-02T18:00:00Z", start="2026-07-01T00:00:00Z"))
    r.commit("2026-07-01T19:00:00Z", "longer", "Bob")
    # Its from moved on while in force: valid file by file, over a day in all, flagged.
    r.write("overrides/slid.yaml", _adjusted("2026-07-10T20:00:00Z", start="2026-07-10T00:00:00Z"))
    r.commit("2026-07-10T00:00:00Z", "slid", "Bob")
    r.write("overrides/slid.yaml", _adjusted("2026-07-11T18:00:00Z", start="2026-07-10T19:00:00Z"))
    r.commit("2026-07-10T19:00:00Z", "slid on", "Bob")
    # Ended, then written again a day later: a second window, not one long one.
    r.write("overrides/again.yaml", _adjusted("2026-08-01T12:00:00Z", start="2026-08-01T10:00:00Z"))
    r.commit("2026-08-01T10:00:00Z", "again", "Bob")
    r.write("overrides/again.yaml", _adjusted("2026-08-02T12:00:00Z", start="2026-08-02T10:00:00Z"))
    r.commit("2026-08-02T10:00:00Z", "again, a day later", "Bob")
    doc = _audit_json(tmp_path, capsys)
    overrides = doc["overrides"]
    assert isinstance(overrides, list)
    rows = [  # the dates as MM-DDTHH:MM
        (o["name"], o["kind"], o["from"][5:16], o["until"][5:16], o["ended"], o["lifted_by"])
        for o in overrides
    ]
    assert rows == [
        ("late", "brake", "06-02T10:00", "06-09T09:00", "reverted at until", None),
        ("swap", "adjustment", "06-10T10:00", "06-10T13:00", "lifted early", "Dave"),
        ("swap", "brake", "06-10T11:00", "06-11T11:00", "reverted at until", None),
        ("moved", "adjustment", "06-21T10:00", "06-21T20:00", "withdrawn before it started",
         "Carol"),
        ("long", "adjustment", "07-01T00:00", "07-01T20:00", "reverted at until", None),
        ("slid", "adjustment", "07-10T00:00", "07-11T18:00", "reverted at until", None),
        ("again", "adjustment", "08-01T10:00", "08-01T12:00", "reverted at until", None),
        ("again", "adjustment", "08-02T10:00", "08-02T12:00", "reverted at until", None),
    ]  # fmt: skip
    flags = {o["name"]: o["flags"] for o in overrides if o["flags"]}
    assert flags["slid"][-1] == "in force 42 hours in all, over 24"
    assert not any("in all" in flag for flag in flags["long"])  # it never applied past 20:00
    notes = doc["notes"]
    assert isinstance(notes, list)
    assert any("long is not a valid override file" in n and "24-hour" in n for n in notes)
    totals = doc["totals"]
    assert isinstance(totals, dict)
    assert (totals["adjustments"], totals["adjustments_reverted_on_time"]) == (6, 5)
    assert totals["brakes"] == 2


def test_a_merge_is_one_change_at_its_merge(tmp_path: Path, capsys: Capture) -> None:
    r = _Repo(tmp_path)
    git(tmp_path, "checkout", "-q", "-b", "feat")
    r.write("policy.yaml", VALID.replace("max_positions: 5", "max_positions: 10"))
    r.commit("2026-06-07T10:00:00Z", "feat loosens", "Bob")
    git(tmp_path, "checkout", "-q", "main")
    r.write("policy.yaml", VALID.replace("[trend_follow, mean_reversion]", "[trend_follow]"))
    r.commit("2026-06-08T10:00:00Z", "main tightens", "Carol")
    env = {"GIT_AUTHOR_NAME": "Merger", "GIT_AUTHOR_DATE": "2026-06-09T10:00:00Z"}
    env["GIT_COMMITTER_DATE"] = "2026-06-09T10:00:00Z"
    git(tmp_path, "merge", "-q", "--no-edit", "feat", env=env)
    changes = _audit_json(tmp_path, capsys)["changes"]
    assert isinstance(changes, list)
    assert [(c["path"], c["merged_at"], c["author"]) for c in changes] == [
        ("allowed_strategies.mean_reversion", "2026-06-08T10:00:00Z", "Carol"),
        ("max_positions", "2026-06-09T10:00:00Z", "Merger"),
    ]


def test_an_audit_that_would_look_complete_but_is_not_is_refused(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = _Repo(tmp_path / "full")
    r.write("policy.yaml", VALID.replace("max_positions: 5", "max_positions: 9"))
    r.commit("2026-06-03T10:00:00Z", "looser")
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{tmp_path / 'full'}", "shallow")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    cases = [
        (tmp_path / "shallow", [], "shallow clone"),
        (tmp_path / "full", ["nothere.yaml"], "is in no commit of HEAD"),
        (tmp_path / "full", ["--rev", "^HEAD"], "--rev is one revision"),
        (tmp_path / "full", ["--rev", "main..HEAD"], "--rev is one revision"),
        (tmp_path / "full", ["--since", "0001"], "no history before 1970"),
        (empty, [], "no commits yet"),
    ]
    for where, extra, said in cases:
        monkeypatch.chdir(where)
        capsys.readouterr()
        assert main(["audit", *extra]) == 2, extra
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, err


def test_a_second_outsider_s_histories(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Back-to-back adjustments of one field are one loosening for the 24-hour flag; the
    overrides' directory is followed where the policy was moved; hand-set commit times and a
    state over the file limit are said; --only recounts; --since excludes what ended at it."""
    r = _Repo(tmp_path / "a")
    for day, until in (("01", "06-02T09:00"), ("02", "06-03T09:01"), ("03", "06-04T09:01")):
        r.write(
            "overrides/gap.yaml", _adjusted(f"2026-{until}:00Z", start=f"2026-06-{day}T09:01:00Z")
        )
        r.commit(f"2026-06-{day}T09:01:00Z", f"again {day}")
    doc = _audit_json(tmp_path / "a", capsys)
    rows = doc["overrides"]
    assert isinstance(rows, list) and len(rows) == 3
    assert rows[0]["flags"][-1] != rows[2]["flags"][-1]
    assert (
        rows[2]["flags"][-1]
        == "in force 72 hours in all with the adjustments just before it, over 24"
    )
    # Moved with its policy: the earlier override is still there, put on by who put it on.
    m = _Repo(tmp_path / "m")
    m.write("overrides/early.yaml", _adjusted("2026-06-02T20:00:00Z", start="2026-06-02T10:00:00Z"))
    m.commit("2026-06-02T10:00:00Z", "early", "Alice")
    (tmp_path / "m" / "conf").mkdir()
    git(tmp_path / "m", "mv", "policy", "conf/policy")
    m.commit("2026-06-02T12:00:00Z", "move", "Mover")
    capsys.readouterr()
    assert (
        main(["audit", str(tmp_path / "m" / "conf" / "policy" / "policy.yaml"), "--format", "json"])
        == 0
    )
    moved = json.loads(capsys.readouterr().out)["overrides"]
    assert [(o["name"], o["put_on_by"], o["ended"]) for o in moved] == [
        ("early", "Alice", "reverted at until")
    ]
    # Hand-set times, and a state no store applies (65 files).
    t = _Repo(tmp_path / "t")
    t.write("policy.yaml", VALID.replace("max_positions: 5", "max_positions: 6"))
    t.commit("2099-01-01T00:00:00Z", "future")
    t.write("policy.yaml", VALID.replace("max_positions: 5", "max_positions: 7"))
    t.commit("2026-06-03T00:00:00Z", "back in time")
    for n in range(65):
        t.write(
            f"overrides/b{n}.yaml",
            'reason: "b"\nuntil: "2026-06-03T09:00:00Z"\nset: {max_positions: 2}\n',
        )
    t.commit("2026-06-03T01:00:00Z", "too many")
    notes = _audit_json(tmp_path / "t", capsys)["notes"]
    assert isinstance(notes, list)
    assert any("in the future" in n for n in notes) and any("before " in n for n in notes)
    assert any("65 override files, over the limit of 64" in n for n in notes)
    # --only recounts the totals; --since leaves out what ended exactly then.
    only = _audit_json(tmp_path / "t", capsys, "--only", "tightens")
    assert only["changes"] == [] and only["totals"]["changes"] == 0  # type: ignore[index]
    since = _audit_json(tmp_path / "a", capsys, "--since", "2026-06-04T09:01:00Z")
    assert since["overrides"] == []


def test_an_override_that_is_not_a_regular_file_is_said(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file turned into a symbolic link (git's T), or added as one: review refuses it, a
    store reads what it points to; the audit cannot know what that was, and says so."""
    r = _Repo(tmp_path)
    r.write("overrides/s.yaml", _adjusted("2026-06-02T20:00:00Z", start="2026-06-02T10:00:00Z"))
    r.commit("2026-06-02T10:00:00Z", "adjust")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "s.yaml").write_text(
        _adjusted("2026-06-03T09:00:00Z", start="2026-06-02T10:00:00Z")
    )
    r.write("overrides/s.yaml", None)
    (tmp_path / "policy" / "overrides" / "s.yaml").symlink_to("../../other/s.yaml")
    (tmp_path / "policy" / "overrides" / "t.yaml").symlink_to("../../other/s.yaml")
    r.commit("2026-06-02T11:00:00Z", "link")
    doc = _audit_json(tmp_path, capsys)
    notes = doc["notes"]
    assert isinstance(notes, list)
    for name in ("s", "t"):
        said = [n for n in notes if f" {name} is a symbolic link" in n]
        assert len(said) == 1 and "what it points to" in said[0], notes
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(["log", "--brakes"]) == 0
    out = capsys.readouterr().out
    assert out.count("a symbolic link; an override must be a regular file") == 2, out
