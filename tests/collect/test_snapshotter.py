from pmtape.collect.snapshotter import Snapshotter


def test_each_key_fires_on_its_own_interval() -> None:
    s = Snapshotter()
    s.schedule("hot", 2_000, 2_000)
    s.schedule("warm", 10_000, 10_000)
    fired: dict[str, list[int]] = {"hot": [], "warm": []}
    for now in range(0, 30_001, 50):
        for key in s.pop_due(now):
            fired[key].append(now)
    assert fired["hot"] == list(range(2_000, 30_001, 2_000))
    assert fired["warm"] == [10_000, 20_000, 30_000]


def test_reschedule_and_remove_invalidate_old_entries() -> None:
    s = Snapshotter()
    s.schedule("a", 10_000, 10_000)
    s.schedule("a", 1_000, 1_000)  # promoted to a faster tier
    s.schedule("b", 1_000, 1_000)
    s.remove("b")
    assert s.pop_due(1_000) == ["a"]
    assert s.pop_due(10_000) == ["a"]  # the old 10 s entry is gone
    assert len(s) == 1
    assert "b" not in s


def test_a_stall_does_not_become_a_burst() -> None:
    s = Snapshotter()
    s.schedule("a", 100, 100)
    assert s.pop_due(10_000) == ["a"]  # one snapshot, not a hundred
    assert s.next_due_ms() == 10_100


def test_heap_stays_bounded_under_churn() -> None:
    s = Snapshotter()
    for i in range(10_000):
        s.schedule(f"k{i % 10}", 1_000, i)
    assert len(s._heap) < 200
