"""journal: what a rollout is about to send is on disk before it is sent, per trigger."""

from __future__ import annotations

import json
import threading

from restart_trigger.journal import Journal, Sent, TargetJournal, journal_dir


def env(tmp_path, **extra):
    return {
        "RESTART_TRIGGER_JOURNAL_DIR": str(tmp_path),
        "PULUMI_BACKEND_URL": "file:///b",
        **extra,
    }


URN = "urn:pulumi:dev::main::pulumi-python:dynamic/restart:RestartTrigger::api"


def test_the_journal_lives_in_the_pulumi_home_unless_told_otherwise(tmp_path):
    assert journal_dir({"PULUMI_HOME": "/h"}).as_posix() == "/h/restart-trigger/journal"
    assert (
        journal_dir({"RESTART_TRIGGER_JOURNAL_DIR": "/j", "PULUMI_HOME": "/h"}).as_posix() == "/j"
    )


def test_a_send_then_its_change_id_are_read_back_by_the_next_rollout(tmp_path):
    TargetJournal(Journal(URN, "rt-1", environ=env(tmp_path)), "edas:a", "h2").sending(
        frozenset({"co-0"}), 1000.0
    )
    assert Journal(URN, "rt-1", environ=env(tmp_path)).earlier("edas:a", "h2") == Sent(
        "h2", frozenset({"co-0"}), 1000.0
    )
    Journal(URN, "rt-1", environ=env(tmp_path)).accepted("edas:a", "h2", "co-1")
    sent = Journal(URN, "rt-1", environ=env(tmp_path)).earlier("edas:a", "h2")
    assert sent == Sent("h2", frozenset({"co-0"}), 1000.0, "co-1")


def test_only_the_same_trigger_id_backend_and_hash_see_an_entry(tmp_path):
    Journal(URN, "rt-1", environ=env(tmp_path)).sending("edas:a", "h2", frozenset(), 1.0)
    assert Journal(URN, "rt-1", environ=env(tmp_path)).earlier("edas:a", "h3") is None
    assert Journal(URN, "rt-2", environ=env(tmp_path)).earlier("edas:a", "h2") is None
    other = env(tmp_path, PULUMI_BACKEND_URL="file:///other")
    assert Journal(URN, "rt-1", environ=other).earlier("edas:a", "h2") is None
    assert Journal(URN + "2", "rt-1", environ=env(tmp_path)).earlier("edas:a", "h2") is None


def test_a_refused_send_is_forgotten(tmp_path):
    journal = Journal(URN, None, environ=env(tmp_path))
    journal.sending("edas:a", "h", frozenset({"x"}), 5.0)
    journal.forget("edas:a")
    assert Journal(URN, None, environ=env(tmp_path)).earlier("edas:a", "h") is None


def test_an_unreadable_or_foreign_journal_is_ignored_not_fatal(tmp_path):
    journal = Journal(URN, "rt-1", environ=env(tmp_path))
    journal.path.parent.mkdir(parents=True, exist_ok=True)
    journal.path.write_text("{not json")
    assert journal.earlier("edas:a", "h") is None
    journal.path.write_text(
        json.dumps(
            {
                "trigger": URN,
                "resource_id": "rt-1",
                "entries": {"edas:a": {"hash": "h", "snapshot": "nope", "sent_at": 1}},
            }
        )
    )
    assert Journal(URN, "rt-1", environ=env(tmp_path)).earlier("edas:a", "h") is None


def test_a_journal_that_cannot_be_written_never_stops_a_restart(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    journal = Journal(URN, "rt-1", environ={"RESTART_TRIGGER_JOURNAL_DIR": str(blocker / "j")})
    journal.sending("edas:a", "h", frozenset(), 1.0)  # logs a warning, raises nothing
    assert journal.earlier("edas:a", "h") is not None  # still known in this process


def test_concurrent_targets_all_land(tmp_path):
    journal = Journal(URN, "rt-1", environ=env(tmp_path))
    threads = [
        threading.Thread(target=journal.sending, args=(f"edas:{i}", "h", frozenset(), 1.0))
        for i in range(32)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    again = Journal(URN, "rt-1", environ=env(tmp_path))
    assert all(again.earlier(f"edas:{i}", "h") for i in range(32))


def test_the_journal_holds_ids_hashes_and_times_only(tmp_path):
    journal = Journal(URN, "rt-1", environ=env(tmp_path))
    journal.sending("edas:a", "h", frozenset({"co-0"}), 1.0)
    body = json.loads(journal.path.read_text())
    assert set(body) == {"trigger", "resource_id", "entries"}
    assert set(body["entries"]["edas:a"]) == {"hash", "snapshot", "sent_at"}
