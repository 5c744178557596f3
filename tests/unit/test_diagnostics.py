"""Reading what the .NET diagnostics tools write: counters, trace and dump headers, `dumpheap -stat`."""

from pathlib import Path

from labkit import diagnostics

HEAP_STAT = """\
Statistics:
          MT    Count    TotalSize Class Name
7fdcf72a2bd8    4,106      131,392 LeakyCacheEntry
7fdcf68f1220      369      309,960 Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Http.Http1Connection<Microsoft.AspNetCore.Hosting.HostingApplication+Context>
557e6d493b50    9,801   58,225,304 Free
Total 95,932 objects, 334,106,352 bytes
"""  # noqa: E501


def test_a_counter_reported_per_generation_is_summed_per_sample() -> None:
    name = "dotnet.gc.last_collection.heap.size (By)"
    events = [
        {"name": name, "tags": "gc.heap.generation=gen0", "value": 1},
        {"name": "dotnet.thread_pool.thread.count ({thread} / 1 sec)", "tags": "", "value": 3},
        {"name": name, "tags": "gc.heap.generation=gen2", "value": 2},
        {"name": name, "tags": "gc.heap.generation=gen0", "value": 10},
        {"name": name, "tags": "gc.heap.generation=gen2", "value": 20},
    ]
    document = {"Events": events}
    assert diagnostics.counter_samples(document, "dotnet.gc.last_collection.heap.size") == [3, 30]
    assert diagnostics.counter_samples(document, "dotnet.thread_pool.thread.count") == [3]
    assert diagnostics.counter_samples(document, "dotnet.gc.heap") == []


def test_dumpheap_stat_gives_each_type_its_count_and_size() -> None:
    types = diagnostics.heap_stat(HEAP_STAT)
    assert types["LeakyCacheEntry"] == (4106, 131392)
    assert types["Free"] == (9801, 58225304)
    assert len(types) == 3  # neither the header nor the total is a type


def test_trace_and_dump_files_are_told_by_their_first_bytes(tmp_path: Path) -> None:
    trace, core, other = tmp_path / "a.nettrace", tmp_path / "a.dmp", tmp_path / "b.dmp"
    trace.write_bytes(b"Nettrace\x14\x00\x00\x00!FastSerialization.1")
    core.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + (4).to_bytes(2, "little") + bytes(40))
    other.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + (3).to_bytes(2, "little") + bytes(40))  # a shared library
    assert diagnostics.is_nettrace(trace) and not diagnostics.is_nettrace(core)
    assert diagnostics.is_core_dump(core) and not diagnostics.is_core_dump(other)
    assert not diagnostics.is_core_dump(tmp_path / "missing.dmp")


def test_engine_times_keep_their_nanoseconds() -> None:
    assert diagnostics._timestamp("2026-12-05T10:50:12.250000000Z") == 1796467812.25
