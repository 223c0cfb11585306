"""Group commit: the single usage events of concurrent requests in one process share a write.

Under a threaded server (gunicorn's gthread workers) a process serves many usage calls at
once. Written one by one, each pays its own database round trip, commit and WAL flush,
and those, not Python, are most of a single event's cost. So each request hands its
prepared event in and waits; a request that finds no write in progress becomes the
writer: it takes everything handed in so far (its own event included), writes it with one
statement (usage.pgwrite), and wakes the others. Events handed in meanwhile go in the next
write. Nobody waits for a timer: a lone request is written at once, exactly as before, and
the busier the process, the more events share each write.

Each event's answer, and every exactly-once guarantee, is the batch path's: the same code
writes a batch of 1000 and a group of 3.
"""

import threading


class _Pending:
    __slots__ = ("item", "done", "result", "error")

    def __init__(self, item):
        self.item, self.done, self.result, self.error = item, False, None, None


class GroupCommitter:
    """Hands items to `write(items) -> results` (same order), many requests at a time."""

    def __init__(self, write):
        self._write = write
        self._changed = threading.Condition()
        self._queue = []
        self._writing = False

    def submit(self, item):
        """`item`'s result, written together with whatever other threads submit meanwhile."""
        pending = _Pending(item)
        with self._changed:
            self._queue.append(pending)
            while not pending.done:
                if self._writing:
                    self._changed.wait()
                    continue
                group, self._queue, self._writing = self._queue, [], True
                self._changed.release()
                try:
                    self._write_group(group)
                finally:
                    self._changed.acquire()
                    self._writing = False
                    self._changed.notify_all()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _write_group(self, group):
        try:
            results = self._write([p.item for p in group])
        except Exception as error:
            if len(group) == 1:
                group[0].error, group[0].done = error, True
                return
            # One bad event must not fail the requests that happened to share its write:
            # each is tried again on its own.
            for pending in group:
                self._write_group([pending])
            return
        except BaseException as error:  # the worker is being stopped: nobody waits forever
            for pending in group:
                pending.error, pending.done = error, True
            raise
        for pending, result in zip(group, results):
            pending.result, pending.done = result, True
