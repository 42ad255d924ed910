"""What the context engine keeps: bounded, oldest out first, per backend, all forgettable."""

from __future__ import annotations

import gc
import threading
import weakref
from pathlib import Path

import caw_lab
from caw_lab.context import caches, loader, surroundings, tokens
from caw_lab.context.caches import Kept, of_backend
from caw_lab.ranking import features, rankers
from tests.conftest import make_workflow


def test_kept_is_bounded_and_forgets_the_oldest_put() -> None:
    kept: Kept[str] = Kept(3)
    for n in range(3):
        kept.put(n, f"value {n}")
    kept.put(0, "value 0 again")
    kept.put(3, "value 3")
    assert [kept.get(n) for n in range(4)] == ["value 0 again", None, "value 2", "value 3"], "0, put again, is new"
    assert len(kept) == 3


def test_kept_holds_under_threads() -> None:
    kept: Kept[int] = Kept(50)

    def churn(offset: int) -> None:
        for n in range(2000):
            kept.put((offset, n % 80), n)
            kept.get((offset, (n * 7) % 80))

    threads = [threading.Thread(target=churn, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kept) == 50


def test_a_backend_key_neither_keeps_the_backend_alive_nor_matches_another(tmp_path: Path) -> None:
    kept: Kept[str] = Kept(8)
    first = caw_lab.connect(tmp_path / "a.db")
    kept.put((of_backend(first.db), "question"), "first's answer")
    assert kept.get((of_backend(first.db), "question")) == "first's answer"
    gone = weakref.ref(first.db)
    first.close()
    del first
    gc.collect()
    assert gone() is None, "the kept entry did not keep the closed backend alive"
    with caw_lab.connect(tmp_path / "a.db") as second:
        assert kept.get((of_backend(second.db), "question")) is None


def test_forget_all_empties_every_cache_and_the_ranking_memos(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "done", "description": "parser"}, {"name": "now", "description": "parser"}])
    client.call("task_update_status", id=wf["tasks"]["done"], status="planning")
    client.call("task_update_status", id=wf["tasks"]["done"], status="in_progress")
    client.call("task_update_status", id=wf["tasks"]["done"], status="completed", outcome="parser written")
    client.call("task_load_context", task_id=wf["tasks"]["now"])
    assert len(loader.ANSWERS) and len(surroundings.WORKFLOWS) and len(tokens.counter().counts)
    assert features.build.cache_info().currsize and rankers.load.cache_info().currsize
    caches.forget_all()
    assert all(len(kept) == 0 for kept in Kept.every)
    assert features.build.cache_info().currsize == rankers.load.cache_info().currsize == 0
