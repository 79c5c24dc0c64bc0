"""Taking turns at the model: a request that arrives during a file job waits for one forward pass, not the job."""

import threading
import time

from reward.model.turns import FairLock


def test_the_lock_is_granted_in_arrival_order():
    lock, order = FairLock(), []
    lock.__enter__()
    threads = []
    for i in range(5):
        t = threading.Thread(target=lambda i=i: (lock.__enter__(), order.append(i), lock.__exit__()))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # each one queued before the next starts
    lock.__exit__()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_a_caller_interrupted_while_waiting_leaves_the_line():
    lock, got = FairLock(), []
    lock.__enter__()
    original_wait = lock._turns.wait
    calls = {"n": 0}

    def interrupted_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return original_wait(*args, **kwargs)

    lock._turns.wait = interrupted_once
    try:
        lock.__enter__()
    except KeyboardInterrupt:
        pass
    lock._turns.wait = original_wait
    later = threading.Thread(target=lambda: (lock.__enter__(), got.append(1), lock.__exit__()))
    later.start()
    lock.__exit__()
    later.join(5)
    assert got == [1], "a caller that gave up must not block the ones after it"


def test_an_interactive_request_overtakes_a_file_job_after_one_pass(tiny_model, monkeypatch):
    """The file job releases the model after each forward pass; a request that came meanwhile goes next."""
    events: list[str] = []
    real_forward = tiny_model._forward
    job_started = threading.Event()

    def recorded_forward(input_ids, attention_mask):
        who = "job" if threading.current_thread().name == "file-job" else "request"
        events.append(f"{who} start")
        job_started.set()
        time.sleep(0.1)  # a pass long enough that the request surely arrives during one
        out = real_forward(input_ids, attention_mask)
        events.append(f"{who} end")
        return out

    monkeypatch.setattr(tiny_model, "_forward", recorded_forward)
    tiny_model.scores.clear()  # every pair here is scored, not answered from the cache of scored pairs
    rows = 8 * tiny_model.batch_size  # eight full passes of equal-length pairs
    job = threading.Thread(name="file-job", target=tiny_model.score_pairs,
                           args=([f"Question {i:03d}?" for i in range(rows)], [f"Answer {i:03d}." for i in range(rows)]))
    job.start()
    assert job_started.wait(10)
    mine = tiny_model.score("Why?", ["Because."])
    arrived_during = events.index("job start")  # the request was sent while the job's first pass ran
    job.join(30)
    first_request = events.index("request start")
    job_passes_before = events[arrived_during:first_request].count("job end")
    assert job_passes_before == 1, events  # only the pass that was running when the request came
    assert events.count("job end") == 8 and len(mine) == 1
    assert events[-1] == "job end", "the file job should still have had passes left when the request was served"
