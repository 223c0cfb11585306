"""usage.groupcommit: concurrent single events share a write, and nobody waits for a timer."""

import threading

import pytest

from usage.groupcommit import GroupCommitter


def _submit_all(committer, items):
    results, errors = {}, {}

    def submit(item):
        try:
            results[item] = committer.submit(item)
        except Exception as error:  # noqa: BLE001 - the test looks at what each caller got
            errors[item] = error

    threads = [threading.Thread(target=submit, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, results, errors


def test_a_lone_event_is_written_at_once_by_its_own_request():
    writes = []
    committer = GroupCommitter(lambda items: writes.append(list(items)) or [i * 10 for i in items])
    assert committer.submit(4) == 40
    assert writes == [[4]]


def test_events_arriving_during_a_write_share_the_next_one():
    first_write_started, release_first = threading.Event(), threading.Event()
    writes = []

    def write(items):
        writes.append(list(items))
        if len(writes) == 1:
            first_write_started.set()
            release_first.wait(10)
        return [f"answer {i}" for i in items]

    committer = GroupCommitter(write)
    first, results, _ = _submit_all(committer, [0])
    assert first_write_started.wait(10)
    others, more_results, _ = _submit_all(committer, range(1, 9))
    # The eight wait for the running write; let it finish.
    while len(committer._queue) < 8:
        threading.Event().wait(0.01)
    release_first.set()
    for thread in first + others:
        thread.join(10)
    assert writes[0] == [0]
    assert sorted(writes[1]) == list(range(1, 9))  # one write for all eight
    assert len(writes) == 2
    assert results == {0: "answer 0"}
    assert more_results == {i: f"answer {i}" for i in range(1, 9)}


def test_one_bad_event_does_not_fail_the_others_in_its_write():
    gate = threading.Event()
    writes = []

    def write(items):
        writes.append(list(items))
        if len(writes) == 1:
            gate.wait(10)
        if "bad" in items:
            raise ValueError("bad event")
        return [item.upper() for item in items]

    committer = GroupCommitter(write)
    first, results, errors = _submit_all(committer, ["first"])
    while not writes:
        threading.Event().wait(0.01)
    others, more_results, more_errors = _submit_all(committer, ["a", "bad", "b"])
    while len(committer._queue) < 3:
        threading.Event().wait(0.01)
    gate.set()
    for thread in first + others:
        thread.join(10)
    assert results == {"first": "FIRST"}
    assert more_results == {"a": "A", "b": "B"}
    assert isinstance(more_errors["bad"], ValueError)


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_worker_stopped_mid_write_leaves_nobody_waiting(stop):
    def write(items):
        raise stop()

    committer = GroupCommitter(write)
    with pytest.raises(stop):
        committer.submit(1)
    committer._write = lambda items: list(items)
    assert committer.submit(2) == 2
