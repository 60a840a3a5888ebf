#!/usr/bin/python3
"""Writes the committed .pt fixtures: SGLang expert-distribution dumps as torch.save writes them.

Run with Debian's python3-torch (torch 1.13): /usr/bin/python3 tests/io/make_pt_fixtures.py
Good fixtures go to tests/io/pt/ (with JSON twins holding the same counts), bad ones to
tests/cli/bad_inputs/. torch 1.13 writes the 1.x layout (`<name>/data.pkl`, `<name>/data/N`,
`<name>/version`); the 2.x layout (`archive/`, `.format_version`, `.storage_alignment`,
`byteorder`, 64-byte aligned storages, `version`, `.data/serialization_id`, in torch 2.x's record
order) is rewritten here from torch's own records, which is also how the big-endian file is made.
No pickle written here is ever loaded: the os.system one is built with plain pickle.dumps.
"""

import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOOD = os.path.join(ROOT, "tests", "io", "pt")
BAD = os.path.join(ROOT, "tests", "cli", "bad_inputs")

# stat mode: logical_count [T][L][E] of small integers (exact in every dtype below).
T, L, E = 3, 4, 8


def counts():
    return [[[(t * 37 + l * 11 + e * 5) % 61 for e in range(E)] for l in range(L)] for t in range(T)]


def stat_dump(tensor, rate=None):
    return {"rank": 0, "logical_count": tensor, "average_utilization_rate_over_window": rate}


def save(obj, path):
    torch.save(obj, path)
    print("wrote", os.path.relpath(path, ROOT))


def write_json(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f)
        f.write("\n")
    print("wrote", os.path.relpath(path, ROOT))


def torch_records(path):
    """(name without the archive directory, bytes) of a torch 1.x archive, in order."""
    with zipfile.ZipFile(path) as z:
        out = []
        for info in z.infolist():
            name = info.filename.split("/", 1)[1]
            out.append((name, z.read(info.filename)))
        return out


def write_zip(path, prefix, records, align=64):
    """Writes records uncompressed, each one's data starting at a multiple of `align`, as torch's
    PyTorchStreamWriter does (padding in an extra field "FB")."""
    with open(path, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            full = prefix + name
            info = zipfile.ZipInfo(full, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            header = 30 + len(full.encode()) + 4  # local header, name, extra field id + size
            pad = (-(raw.tell() + header)) % align
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            z.writestr(info, data)
    print("wrote", os.path.relpath(path, ROOT))


def torch2_layout(src, dst, big_endian=False, item_size=4):
    """torch 2.x's archive of the same object: records renamed under archive/, in 2.x's order."""
    records = dict(torch_records(src))
    storages = sorted((n for n in records if n.startswith("data/")), key=lambda n: int(n[5:]))
    out = [("data.pkl", records["data.pkl"]), (".format_version", b"1"), (".storage_alignment", b"64"),
           ("byteorder", b"big" if big_endian else b"little")]
    for name in storages:
        data = records[name]
        if big_endian:
            data = b"".join(data[i:i + item_size][::-1] for i in range(0, len(data), item_size))
        out.append((name, data))
    out += [("version", b"3\n"), (".data/serialization_id", b"1234567890123456789012345678901234567890")]
    write_zip(dst, "archive/", out)


class FakeStorage:
    """Pickled as the persistent id torch writes for a storage (never a real storage)."""

    def __init__(self, storage_type, key, numel):
        self.storage_type, self.key, self.numel = storage_type, key, numel


class FakeTensor:
    """Pickled as torch's _rebuild_tensor_v2 call with whatever view we ask for."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def crafted(path, obj, storages):
    """A 1.x-layout archive whose data.pkl pickles `obj` (with FakeTensors) and whose data/<key>
    records hold `storages[key]` bytes."""
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(obj)
    name = os.path.splitext(os.path.basename(path))[0]
    records = [("data.pkl", buf.getvalue())] + [("data/" + k, v) for k, v in storages.items()]
    records.append(("version", b"3\n"))
    write_zip(path, name + "/", records)


class SystemCall:
    """Pickles as a call of os.system: what a malicious .pt holds. Pickled, never unpickled."""

    def __reduce__(self):
        return (os.system, ("echo this pickle ran code",))


def per_pass():
    """Two rank files of a per_pass dump: 2 layers, 6 physical slots, 4 logical experts."""
    phy2log = torch.tensor([[0, 1, 2, 3, 0, 1], [3, 2, 1, 0, 3, 3]], dtype=torch.int64)
    # (forward_pass_id, counts [L][P]) per rank; rank 1 lists its passes out of order and
    # records a pass that rank 0 lacks.
    ranks = {
        0: [(0, [[1, 2, 3, 4, 5, 6], [0, 1, 0, 1, 0, 1]]),
            (1, [[2, 0, 0, 0, 1, 0], [4, 4, 4, 4, 4, 4]])],
        1: [(1, [[1, 1, 1, 1, 1, 1], [0, 0, 7, 0, 0, 2]]),
            (0, [[10, 0, 0, 0, 10, 0], [1, 0, 0, 0, 0, 0]]),
            (3, [[0, 0, 0, 9, 0, 0], [0, 0, 0, 0, 0, 5]])],
    }
    os.makedirs(os.path.join(GOOD, "per_pass"), exist_ok=True)
    totals = {}
    for rank, records in ranks.items():
        dump = {
            "records": [{"forward_pass_id": fp, "rank": rank, "gatherer_key": "primary",
                         "global_physical_count": torch.tensor(c, dtype=torch.int32)} for fp, c in records],
            "last_physical_to_logical_map": phy2log,
        }
        save(dump, os.path.join(GOOD, "per_pass", f"expert_distribution_recorder_1700000000.5_{rank}.pt"))
        for fp, c in records:
            totals[fp] = totals.get(fp, 0) + torch.tensor(c, dtype=torch.int32)
    # The fold SGLang's own reader does (scatter_add over the map), as the twin.
    gpc = torch.stack([totals[fp] for fp in sorted(totals)])
    logical = torch.zeros((gpc.shape[0], 2, 4), dtype=gpc.dtype)
    logical.scatter_add_(2, phy2log.unsqueeze(0).expand(gpc.shape[0], -1, -1), gpc)
    write_json({"logical_count": logical.tolist()}, os.path.join(GOOD, "per_pass.json"))
    # One rank's file on its own is a per-pass dump too.
    return phy2log


def main():
    os.makedirs(GOOD, exist_ok=True)
    base = torch.tensor(counts(), dtype=torch.int32)
    write_json({"logical_count": counts()}, os.path.join(GOOD, "stat.json"))
    save(stat_dump(base), os.path.join(GOOD, "stat.pt"))
    save(stat_dump(base.to(torch.int64), 0.875), os.path.join(GOOD, "stat_int64.pt"))
    quarters = base.to(torch.float64) / 4
    write_json({"logical_count": quarters.tolist()}, os.path.join(GOOD, "stat_quarters.json"))
    for dtype, name in [(torch.float32, "float32"), (torch.float64, "float64"), (torch.bfloat16, "bfloat16"),
                        (torch.float16, "float16")]:
        save(stat_dump(quarters.to(dtype)), os.path.join(GOOD, f"stat_{name}.pt"))
    # A strided view: [T][E][L+1] storage, offset 1 (the slice), transposed to [T][L][E].
    wide = torch.zeros((T, E, L + 1), dtype=torch.int32)
    wide[:, :, 1:] = base.transpose(1, 2)
    view = wide[:, :, 1:].transpose(1, 2)
    assert not view.is_contiguous() and view.storage_offset() == 1 and torch.equal(view, base)
    save(stat_dump(view), os.path.join(GOOD, "stat_strided.pt"))
    # torch 2.x layout, little- and big-endian.
    torch2_layout(os.path.join(GOOD, "stat.pt"), os.path.join(GOOD, "stat_torch2.pt"))
    torch2_layout(os.path.join(GOOD, "stat_float64.pt"), os.path.join(GOOD, "stat_float64_big_endian.pt"),
                  big_endian=True, item_size=8)
    per_pass()

    # Bad inputs.
    data = open(os.path.join(GOOD, "stat.pt"), "rb").read()
    with open(os.path.join(BAD, "truncated.pt"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(BAD, "wrong_magic.pt"), "wb") as f:
        f.write(b"PT" + data[2:])
    buf = io.BytesIO()
    torch.save(stat_dump(base), buf, _use_new_zipfile_serialization=False)
    with open(os.path.join(BAD, "legacy.pt"), "wb") as f:
        f.write(buf.getvalue())
    write_zip(os.path.join(BAD, "os_system.pt"), "os_system/",
              [("data.pkl", pickle.dumps(SystemCall(), protocol=2)), ("version", b"3\n")])
    int_storage = torch.IntStorage
    storage = FakeStorage(int_storage, "0", T * L * E)
    raw = base.numpy().tobytes()
    crafted(os.path.join(BAD, "huge_shape.pt"),
            stat_dump(FakeTensor(storage, 0, (1 << 30, 1 << 30, 1 << 30), (1, 1, 1))), {"0": raw})
    crafted(os.path.join(BAD, "short_storage.pt"),
            stat_dump(FakeTensor(FakeStorage(int_storage, "0", 64), 0, (T, L, E), (L * E, E, 1))),
            {"0": raw[: 64 * 4]})
    crafted(os.path.join(BAD, "short_record.pt"),
            stat_dump(FakeTensor(storage, 0, (T, L, E), (L * E, E, 1))), {"0": raw[: len(raw) // 2]})
    # One tensor named by two records (torch.save's memo): SGLang clones each record's counts.
    shared = torch.ones((2, 6), dtype=torch.int32)
    save({"records": [{"forward_pass_id": i, "rank": 0, "gatherer_key": "primary", "global_physical_count": shared}
                      for i in range(2)],
          "last_physical_to_logical_map": torch.zeros((2, 6), dtype=torch.int64)},
         os.path.join(BAD, "shared_storage.pt"))
    with zipfile.ZipFile(os.path.join(GOOD, "stat.pt")) as z, \
            zipfile.ZipFile(os.path.join(BAD, "deflated.pt"), "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            out.writestr(info.filename, z.read(info.filename))
    save(base, os.path.join(BAD, "plain_tensor.pt"))
    crafted(os.path.join(BAD, "negative_stride.pt"),
            stat_dump(FakeTensor(storage, T * L * E - 1, (T, L, E), (-L * E, -E, -1))), {"0": raw})


if __name__ == "__main__":
    sys.exit(main())
