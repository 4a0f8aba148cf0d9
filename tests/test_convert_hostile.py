"""Hostile inputs and interrupted outputs of ``edgetext convert`` (issue 13, findings 5 and 10).

Finding 5: ``.pdparams`` were ``paddle.load``-ed (``pickle.load``): a crafted checkpoint ran its code before
the "not a state dict" error. They are now read by ``readers/paddle_pickle.py``'s restricted unpickler;
here: crafted payloads are refused with the forbidden global named and never run (in this process and
through the CLI), real ``paddle.save`` files of every form load exactly as ``paddle.load`` reads them and
use only the allowed globals, and the siblings (``load_checkpoint``, ``.pdiparams``, ``.pdiparams.info``,
any other unpickling in the converters) are covered.

Finding 10: every output is staged beside ``--out`` and renamed into place (``output.py``); here: a real
``python -m edgetext_converters`` child is interrupted with SIGINT mid-conversion (no partial output, a
re-run works), an existing bundle needs ``--force``, and an unwritable ``--out`` fails in under a second.

Paddle runs only in child processes (tests/support/convert_helpers.py): this process never loads libpaddle.
"""
from __future__ import annotations

import ast
import copyreg
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from support import convert_helpers as H

ROOT = Path(__file__).resolve().parent.parent
CONVERTERS = ROOT / "converters" / "edgetext_converters"
FAST = ("--targets", "onnx-x86", "--precision", "fp32", "--quiet")


@pytest.fixture(scope="module")
def ernie():
    info = H.build_cached("ernie", "--layers", "2")  # trained once per machine (.cache/convert_tests)
    return {"inference": Path(info["inference"]), "checkpoint": Path(info["checkpoint"])}


# ============================================================================ finding 5: .pdparams
class _Reduce:
    """Pickles as ``fn(*args)`` (then BUILD ``state`` when given): how a crafted file is written."""

    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


def _touch_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def _payloads(marker: Path) -> dict[str, tuple[object, int, str]]:
    """name -> (object to pickle, protocol, the global the refusal must name)."""
    import subprocess as sp

    touch = _touch_code(marker)
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    many = {f"ernie.encoder.layers.{i}.linear1.weight": arr for i in range(40)}
    return {
        "os.system": ({"classifier.weight": _Reduce(os.system, (f"touch {marker}",))}, 4, "posix.system"),
        "exec, protocol 2": ({"classifier.weight": _Reduce(exec, (touch,))}, 2, "builtins.exec"),
        "eval of code": ({"w": _Reduce(eval, (touch,))}, 4, "builtins.eval"),
        "subprocess": ({"w": _Reduce(sp.Popen, (["touch", str(marker)],))}, 3, "subprocess.Popen"),
        "after 40 real arrays": ({**many, "z": _Reduce(exec, (touch,))}, 4, "builtins.exec"),
        "inside an array's state": (_Reduce(np.core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                                            (1, (1,), np.dtype("f4"), False, _Reduce(exec, (touch,)))), 4,
                                    "builtins.exec"),
        "top-level callable": (_Reduce(exec, (touch,)), 4, "builtins.exec"),
        "copyreg reconstructor": ({"w": _Reduce(copyreg._reconstructor, (object, object, None))}, 4,
                                  "copyreg._reconstructor"),
        "numpy, not an array helper": ({"w": _Reduce(np.load, (str(marker),))}, 4, "numpy.load"),
    }


@pytest.fixture()
def refuse(tmp_path):
    from edgetext.errors import ConversionError
    from edgetext_converters.readers.paddle_pickle import load_state_dict

    def check(data: bytes, *needles: str) -> str:
        path = tmp_path / "model_state.pdparams"
        path.write_bytes(data)
        with pytest.raises(ConversionError) as e:
            load_state_dict(path)
        msg = str(e.value)
        assert str(path) in msg
        for needle in needles:
            assert needle in msg, msg
        return msg

    return check


@pytest.mark.parametrize("case", ["os.system", "exec, protocol 2", "eval of code", "subprocess", "after 40 real arrays",
                                  "inside an array's state", "top-level callable", "copyreg reconstructor",
                                  "numpy, not an array helper"])
def test_crafted_pdparams_is_refused_and_never_runs(case, tmp_path, refuse):
    marker = tmp_path / "pwned"
    obj, protocol, forbidden = _payloads(marker)[case]
    msg = refuse(pickle.dumps(obj, protocol=protocol), "refused to load")
    assert forbidden in msg and "paddle.save(model.state_dict()" in msg and "safetensors" in msg
    assert not marker.exists()


def test_allowed_globals_cannot_be_abused(tmp_path, refuse):
    """Each allowed global accepts only what paddle.save writes: arguments, BUILD states, codecs."""
    marker = tmp_path / "pwned"
    R, dt = _Reduce, np.dtype
    recon = np.core.multiarray._reconstruct
    cases = {
        "eval of anything but 'data'": R(eval, ("data", {"data": R(exec, (_touch_code(marker),))})),
        "eval expression": {"w": R(eval, ("__import__('os')", {}))},
        "a codec other than latin-1": {"w": R(__import__("codecs").encode, ("x", "zlib"))},
        "dtype flags (object pointers)": {"w": R(recon, (np.ndarray, (0,), b"b"),
                                                 (1, (2,), R(dt, ("V8", False, True)), False, b"\0" * 16))},
        "tampered dtype state": {"w": R(recon, (np.ndarray, (0,), b"b"),
                                        (1, (2,), R(dt, ("f8", False, True), (3, "<", None, None, None, -1, -1, 0x3f)),
                                         False, b"\0" * 16))},
        "object dtype": {"w": R(dt, ("O", False, True))},
        "huge _reconstruct shape": {"w": R(recon, (np.ndarray, (10 ** 12,), b"b"))},
        "tuple of a string": {"w": R(tuple, ("abc",))},
        "OrderedDict state": {"w": R(__import__("collections").OrderedDict, (), {"items": 1})},
    }
    for name, obj in cases.items():
        msg = refuse(pickle.dumps(obj, protocol=4), "refused to load")
        assert "safetensors" in msg, (name, msg)
    # BUILD on a handed-out global (a plain function's attributes could be replaced) and a persistent id
    G = b"cnumpy\ndtype\n"
    refuse(b"\x80\x02" + G + b"}X\x08\x00\x00\x00__code__K\x01sb.", "state set on numpy.dtype")
    refuse(b"\x80\x02X\x01\x00\x00\x00aQ.", "persistent ids")
    # a copyreg extension code names a global too: find_class still decides
    copyreg.add_extension("posix", "system", 0x7ffffff0)
    try:
        refuse(b"\x80\x02\x84\xf0\xff\xff\x7f.", "posix.system")
    finally:
        copyreg.remove_extension("posix", "system", 0x7ffffff0)
    assert not marker.exists()


def test_corrupt_pdparams_give_one_clear_error(tmp_path, refuse, ernie):
    real = (ernie["checkpoint"] / "model_state.pdparams").read_bytes()
    arr = np.zeros(4, np.float32)
    f4 = _Reduce(np.dtype, ("f4", False, True), (3, "<", None, None, None, -1, -1, 0))
    size_lie = pickle.dumps({"w": _Reduce(np.core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                                          (1, (4,), f4, False, b"\0" * 8))}, protocol=4)
    for data, needle in [(real[: len(real) // 2], "cannot read the parameters (corrupt or not a .pdparams)"),
                         (b"", "cannot read the parameters"), (b"\x00" * 64, "cannot read the parameters"),
                         (os.urandom(4096), "cannot read the parameters"),
                         (pickle.dumps([1, 2], protocol=4), "not a state dict"),
                         (pickle.dumps({}, protocol=4), "not a state dict"),
                         (size_lie, "cannot read the parameters"),
                         (pickle.dumps({"UnpackBigParamInfor@@": {"w": {"OriginShape": (3,), "slices": ["w@@.0"]}},
                                        "w@@.0": arr}, protocol=2), "malformed UnpackBigParamInfor@@")]:
        refuse(data, needle)


def test_numpy_arrays_of_every_layout_round_trip(tmp_path):
    """What paddle.save leaves to numpy's pickling, read back exactly: protocols 2-4, Fortran order,
    big-endian, fp16 and bf16 (uint16), booleans, 0-d and empty arrays, parameters split by protocols 2/3."""
    from edgetext_converters.readers.paddle_pickle import load_state_dict

    rng = np.random.default_rng(0)
    arrays = {
        "f32": rng.standard_normal((3, 5)).astype(np.float32),
        "fortran": np.asfortranarray(rng.standard_normal((4, 3)).astype(np.float32)),
        "big_endian": rng.standard_normal(7).astype(">f4"),
        "f16": rng.standard_normal((2, 2)).astype(np.float16),
        "bf16_bits": rng.integers(0, 2 ** 16, 5).astype(np.uint16),
        "int64": np.arange(5, dtype=np.int64), "bool": np.array([True, False]),
        "scalar": np.array(3.5, dtype=np.float64), "empty": np.zeros((0, 4), np.float32),
    }
    whole = rng.standard_normal((6, 4)).astype(np.float32)
    split = {"UnpackBigParamInfor@@": {"big": {"OriginShape": (6, 4), "slices": ["big@@.0", "big@@.1"]}},
             "big@@.0": whole.ravel()[:15], "big@@.1": whole.ravel()[15:]}
    for protocol in (2, 3, 4):
        path = tmp_path / f"p{protocol}.pdparams"
        names = {k: f"linear_{i}.w_0" for i, k in enumerate(arrays)}
        path.write_bytes(pickle.dumps({**arrays, **split, "StructuredToParameterName@@": names}, protocol=protocol))
        got = load_state_dict(path)
        assert set(got) == set(arrays) | {"big"}
        for k, v in arrays.items():
            assert got[k].dtype == v.dtype and got[k].shape == v.shape and np.array_equal(got[k], v), (protocol, k)
            assert got[k].flags.writeable
        assert np.array_equal(got["big"], whole)


PADDLE_SAVES = r"""
import zlib, json, os, pickle, sys
import numpy as np
import paddle
out = sys.argv[1]
seen = {}
class Rec(pickle.Unpickler):  # records what the files name (these files were just written here)
    def find_class(self, m, n):  # protocol 2 names builtins __builtin__ (fix_imports maps it back)
        seen.setdefault(self.name, set()).add(f"{ {'__builtin__': 'builtins'}.get(m, m)}.{n}")
        return super().find_class(m, n)
def save(name, obj, **kw):
    path = os.path.join(out, name + ".pdparams")
    paddle.save(obj, path, **kw)
    with open(path, "rb") as f:
        r = Rec(f, encoding="latin1"); r.name = name; r.load()
    ref = paddle.load(path, return_numpy=True)
    arrays = {k: v for k, v in ref.items() if isinstance(v, np.ndarray)} if isinstance(ref, dict) else {}
    np.savez(os.path.join(out, name + ".ref.npz"), **arrays)
paddle.seed(1)
net = paddle.nn.Sequential(paddle.nn.Linear(4, 3), paddle.nn.LayerNorm(3))
sd = net.state_dict()
for p in (2, 3, 4):
    save(f"dygraph_p{p}", sd, protocol=p)
save("zero_size_p2", {"e": paddle.zeros([0, 4]), "w": paddle.ones([2])}, protocol=2)
half = paddle.nn.Linear(4, 3); half.to(dtype="float16"); save("fp16", half.state_dict())
bf = paddle.nn.Linear(4, 3); bf.to(dtype="bfloat16"); save("bf16", bf.state_dict())
opt = paddle.optimizer.AdamW(parameters=net.parameters(), learning_rate=paddle.optimizer.lr.LinearWarmup(0.1, 2, 0., .1))
net(paddle.randn([2, 4])).sum().backward(); opt.step()
save("optimizer", opt.state_dict())
save("nested_tensors", {"w": sd["0.weight"], "b": sd["0.bias"], "step": [1]})
save("nested_state_dict", {"model": sd, "epoch": 3})
paddle.enable_static()
main, start = paddle.static.Program(), paddle.static.Program()
with paddle.static.program_guard(main, start):
    y = paddle.static.nn.fc(paddle.static.data("x", [None, 4], "float32"), 3)
exe = paddle.static.Executor(paddle.CPUPlace()); exe.run(start)
paddle.static.save(main, os.path.join(out, "static"))
with open(os.path.join(out, "static.pdparams"), "rb") as f:
    r = Rec(f, encoding="latin1"); r.name = "static_save"; r.load()
st = main.state_dict()
save("static_state_dict", st)
save("static_lod_tensors", {**{k: v for k, v in st.items()}, "extra": [1]})
print(json.dumps({k: sorted(v) for k, v in seen.items()}))
"""


def test_real_paddle_saves_load_as_paddle_load_reads_them(tmp_path):
    """Paddle 2.6's paddle.save in each form: the globals its files name are exactly within the allowed
    list (the list was derived this way), and each file reads as ``paddle.load(return_numpy=True)``."""
    from edgetext_converters.readers.paddle_pickle import ALLOWED_GLOBALS, load_state_dict

    proc = H.run(["-c", PADDLE_SAVES, str(tmp_path)], timeout=300)
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    allowed = {f"{m}.{n}" for m, n in ALLOWED_GLOBALS}
    used = set()
    for name, globs in seen.items():
        assert set(globs) <= allowed, (name, sorted(set(globs) - allowed))
        used |= set(globs)
    assert used == allowed - {"numpy._core.multiarray._reconstruct"}, sorted(allowed - used)  # numpy 2's name
    assert "builtins.eval" in seen["static_lod_tensors"] and "_codecs.encode" in seen["dygraph_p2"]
    assert "builtins.bytes" in seen["zero_size_p2"]  # protocol 2 writes b"" as bytes()
    for ref_file in sorted(tmp_path.glob("*.ref.npz")):
        name = ref_file.name[: -len(".ref.npz")]
        ref = dict(np.load(ref_file))
        got = load_state_dict(tmp_path / f"{name}.pdparams")
        assert set(got) == set(ref), (name, set(got) ^ set(ref))
        for k in ref:
            assert got[k].dtype == ref[k].dtype and np.array_equal(got[k], ref[k]), (name, k)
        assert got or name == "nested_state_dict", name  # its arrays are one level down, as paddle.load has them
    assert load_state_dict(tmp_path / "static.pdparams")


SIBLINGS = r"""
import zlib, contextlib, io, json, sys
from pathlib import Path
from edgetext.errors import ConversionError
from edgetext_converters import load_checkpoint, readers
from edgetext_converters.cli import main
evil_ck, info_inf, pickled_inf, out = sys.argv[1:5]
res = {}
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    res["cli_rc"] = main([evil_ck, "--out", out, "--targets", "onnx-x86", "--quiet"])
res["cli_err"] = err.getvalue()
for key, fn, arg in (("load_checkpoint", load_checkpoint, evil_ck), ("read_checkpoint", readers.read, evil_ck),
                     ("read_info", readers.read, info_inf), ("read_pickled", readers.read, pickled_inf)):
    try:
        fn(Path(arg))
        res[key] = "ok"
    except ConversionError as e:
        res[key] = "ConversionError: " + str(e)
print(json.dumps(res))
"""


def test_malicious_checkpoint_is_refused_by_convert_and_its_siblings(ernie, tmp_path):
    """Through the CLI (the finding: the payload ran before "not a state dict"), ``load_checkpoint``, and
    the inference-model reader: its ``.pdiparams`` is Paddle's binary tensor format (never unpickled) and a
    ``.pdiparams.info`` (a pickle paddle.jit.save writes) is never read."""
    markers = {k: tmp_path / f"pwned-{k}" for k in ("params", "info", "pdiparams")}
    evil_ck = tmp_path / "evil_checkpoint"
    shutil.copytree(ernie["checkpoint"], evil_ck)
    (evil_ck / "model_state.pdparams").write_bytes(pickle.dumps(
        {"classifier.weight": _Reduce(os.system, (f"touch {markers['params']}",))}, protocol=4))
    info_inf = tmp_path / "inference_with_info"
    shutil.copytree(ernie["inference"], info_inf)
    (info_inf / "model.pdiparams.info").write_bytes(pickle.dumps(_Reduce(exec, (_touch_code(markers["info"]),))))
    pickled_inf = tmp_path / "inference_pickled_params"
    shutil.copytree(ernie["inference"], pickled_inf)
    (pickled_inf / "model.pdiparams").write_bytes(pickle.dumps(_Reduce(exec, (_touch_code(markers["pdiparams"]),))))
    out = tmp_path / "out.etb"
    proc = H.run(["-c", SIBLINGS, str(evil_ck), str(info_inf), str(pickled_inf), str(out)], timeout=600)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    lines = [line for line in res["cli_err"].splitlines() if line.strip()]
    assert res["cli_rc"] == 1 and len(lines) == 1, res["cli_err"]
    assert lines[0].startswith("edgetext convert: error: ") and "refused to load" in lines[0]
    assert "posix.system" in lines[0] and "safetensors" in lines[0]
    for key in ("load_checkpoint", "read_checkpoint"):
        assert res[key].startswith("ConversionError: ") and "posix.system" in res[key], res[key]
    assert res["read_info"] == "ok"
    assert res["read_pickled"].startswith("ConversionError: ") and "cannot load the parameters" in res["read_pickled"]
    assert not [m.name for m in markers.values() if m.exists()]
    assert not out.exists()


def test_converters_never_unpickle():
    """No pickle.load(s), Unpickler, paddle.load, jit.load, torch.load or np.load(allow_pickle=True) in the
    converters, except the restricted unpickler itself."""
    bad = []
    for path in sorted(CONVERTERS.rglob("*.py")):
        rel = path.relative_to(CONVERTERS).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                base = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
                name = f"{base}.{node.attr}"
                if name in ("pickle.load", "pickle.loads", "paddle.load", "jit.load", "torch.load",
                            "static.load", "dill.load", "joblib.load", "pickle.Unpickler", "_pickle.load"):
                    if not (rel == "readers/paddle_pickle.py" and name == "pickle.Unpickler"):
                        bad.append(f"{rel}:{node.lineno} {name}")
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                        bad.append(f"{rel}:{node.lineno} allow_pickle")
            if isinstance(node, ast.ImportFrom) and node.module in ("pickle", "_pickle", "dill", "joblib"):
                bad.append(f"{rel}:{node.lineno} from {node.module} import")
    assert not bad, bad


# ============================================================================ finding 10: outputs
def _files_under(folder: Path) -> list[Path]:
    return [Path(d) / f for d, _, files in os.walk(folder) for f in files]


def _interrupt(cmd: list[str], outs: Path, when: str, env: dict, timeout: float = 300,
               sig: int = signal.SIGINT) -> tuple[int, str]:
    """Start ``cmd`` in its own process group, send ``sig`` to the group (SIGINT: as Ctrl-C does) once a file
    appears under ``outs`` (``when="writing"``: the bundle is being written) or after ``when`` seconds."""
    # A runner started in the background (a non-interactive shell's `cmd &`) ignores SIGINT, and an ignored
    # signal is inherited: the child then never sees Ctrl-C and the test could only skip. Restore the default.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(ROOT), start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - t0 < timeout:
            if (when == "writing" and _files_under(outs)) or (when != "writing" and time.monotonic() - t0 > float(when)):
                os.killpg(proc.pid, sig)
                break
            time.sleep(0.002)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, err


def _assert_bundle(path: Path) -> None:
    from edgetext.bundle import Bundle

    with Bundle.open(path) as b:
        assert b.verify()["ok"]


@pytest.mark.parametrize("kind,when,sig", [("folder", "writing", signal.SIGINT), ("folder", "1.5", signal.SIGINT),
                                           (".etb", "writing", signal.SIGINT), (".etb", "writing", signal.SIGTERM),
                                           ("folder", "1.5", signal.SIGTERM)])
def test_sigint_mid_conversion_leaves_no_partial_output(ernie, tmp_path, kind, when, sig):
    outs = tmp_path / "outs"
    outs.mkdir()
    out = outs / ("bundle" if kind == "folder" else "bundle.etb")
    tmp = tmp_path / "tmp"  # the child's TMPDIR: its work folder must go too
    tmp.mkdir()
    env = {**H.child_env(), "TMPDIR": str(tmp)}
    cmd = [sys.executable, "-m", "edgetext_converters", str(ernie["checkpoint"]), "--out", str(out), *FAST]
    rc, err = _interrupt(cmd, outs, when, env, sig=sig)
    if rc == 0:  # the signal came after the bundle was in place: then it is whole
        _assert_bundle(out)
        pytest.skip(f"{signal.Signals(sig).name} arrived after the conversion finished")
    expected = (130, "edgetext convert: error: interrupted") if sig == signal.SIGINT else \
        (143, "edgetext convert: error: terminated (SIGTERM)")
    assert rc == expected[0] and expected[1] in err, (rc, err[-2000:])
    assert "Traceback" not in err
    assert not os.path.lexists(out), sorted(os.listdir(outs))
    assert not os.listdir(outs), sorted(os.listdir(outs))  # no staging folder left beside --out
    assert not os.listdir(tmp), sorted(os.listdir(tmp))
    proc = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]  # no --force needed: nothing was left behind
    _assert_bundle(out)
    assert sorted(os.listdir(outs)) == [out.name]


def test_existing_bundles_need_force_and_odd_outputs_fail_fast(ernie, tmp_path):
    """An existing .etb or bundle folder is refused without --force (untouched), replaced with it; a folder
    that is not a bundle, a file where a folder goes, the source itself and unwritable places are refused
    before any work, in under a second, naming --out and no temporary file."""
    src = str(ernie["checkpoint"])
    etb, folder = tmp_path / "b.etb", tmp_path / "b"
    for out in (etb, folder):
        proc = H.convert_cli(src, "--out", str(out), *FAST)
        assert proc.returncode == 0, proc.stderr[-2000:]
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in [etb, *folder.iterdir()]}
    not_bundle = tmp_path / "notes"
    not_bundle.mkdir()
    (not_bundle / "keep.txt").write_text("mine")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o500)
    cases = [
        ([str(etb)], "exists; pass --force"),
        ([str(folder)], "exists (a bundle folder); pass --force"),
        ([str(not_bundle), "--force"], "is not an EdgeText bundle"),
        ([str(a_file), "--force"], "exists and is not a folder"),
        ([str(a_file / "x.etb")], "is not a folder"),
        ([src, "--force"], "is or contains the source"),
        (["/proc/edgetext-test/x.etb"], "cannot write in"),
    ]
    if os.geteuid() != 0:  # root writes into a 0500 folder
        cases.append(([str(ro / "x.etb")], "cannot write in"))
    try:
        for args, needle in cases:
            t0 = time.monotonic()
            proc = H.convert_cli(src, "--out", *args, *FAST)
            took = time.monotonic() - t0
            lines = [line for line in proc.stderr.splitlines() if line.startswith("edgetext convert: error:")]
            assert proc.returncode == 1 and len(lines) == 1, (args, proc.stderr[-2000:])
            assert needle in lines[0] and f"--out {args[0]}" in lines[0], (args, lines[0])
            assert not any(t in lines[0] for t in (".pack-", ".partial-", ".probe-")), lines[0]
            assert took < 1.0, (args, took)
    finally:
        ro.chmod(0o700)
    assert before == {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in [etb, *folder.iterdir()]}
    assert (not_bundle / "keep.txt").read_text() == "mine" and a_file.read_text() == "x"
    for out in (etb, folder):
        proc = H.convert_cli(src, "--out", str(out), *FAST, "--force", "--name", "replaced")
        assert proc.returncode == 0, proc.stderr[-2000:]
        _assert_bundle(out)
        from edgetext.bundle import Bundle

        with Bundle.open(out) as b:
            assert b.manifest.name == "replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["b.etb", "b", "notes", "file.txt", "readonly"])
    umask = os.umask(0)
    os.umask(umask)
    for p in [etb, folder, *folder.iterdir()]:
        want = (0o777 if p.is_dir() else 0o666) & ~umask
        assert p.stat().st_mode & 0o777 == want, (p, oct(p.stat().st_mode))


def test_converted_onnx_models_are_self_contained(ernie, tmp_path):
    """Issue 13 finding 1 at convert time: the converters write no ONNX external data (every initializer
    inline), checked on a real bundle (int8, the default) with the runtime's checker."""
    from edgetext.bundle import Bundle
    from edgetext.modelcheck import check_onnx_self_contained

    out = tmp_path / "b.etb"
    proc = H.convert_cli(str(ernie["checkpoint"]), "--out", str(out), "--targets", "onnx-x86", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    with Bundle.open(out) as b:
        for spec in b.models:
            check_onnx_self_contained(b.read(spec.file), spec.file)


def test_a_model_file_with_external_data_is_refused_at_convert_time(tmp_path):
    """What build_target checks on every model file it puts in a bundle (edgetext.modelcheck)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from edgetext.errors import ConversionError
    from edgetext_converters.pipeline import _check_model_file
    from edgetext_converters.targets import TARGETS

    w = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["logits"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2])], [w])
    model = helper.make_model(graph)
    ok = tmp_path / "model.x86_64.fp32.onnx"
    onnx.save(model, str(ok))
    _check_model_file(TARGETS["onnx-x86"], ok)
    w = model.graph.initializer[0]
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="/etc/hostname")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(model.SerializeToString())
    with pytest.raises(ConversionError, match="onnx-x86: the converted model is not fit for a bundle"):
        _check_model_file(TARGETS["onnx-x86"], bad)


# ----------------------------------------------------------------------------- output.py, in this process
def test_staged_output_cleans_up_on_interrupt_and_removes_stale_staging(tmp_path):
    from edgetext.errors import ConversionError
    from edgetext_converters.output import StagedOutput

    out = tmp_path / "a" / "b" / "bundle"
    with pytest.raises(KeyboardInterrupt):
        with StagedOutput(out) as s:
            (s.staged / "manifest.json").write_text("{}")
            raise KeyboardInterrupt
    assert not (tmp_path / "a").exists()  # the parents it made went too
    # a staging folder of a process that is gone (kill -9) is removed; a live one's is kept
    out.parent.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out.parent / f".bundle.partial-{int(dead.stdout)}-xyz"
    live = out.parent / f".bundle.partial-{os.getppid()}-xyz"
    for p in (stale, live):
        (p / "bundle").mkdir(parents=True)
    with StagedOutput(out) as s:
        (s.staged / "manifest.json").write_text("{}")
        s.commit()
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(["bundle", live.name])
    with pytest.raises(ConversionError, match="pass --force"):
        StagedOutput(out).__enter__()
    with StagedOutput(out, force=True) as s:  # folder swapped in one step; the old one goes with the staging
        (s.staged / "manifest.json").write_text('{"v": 2}')
        s.commit()
    assert (out / "manifest.json").read_text() == '{"v": 2}'
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(["bundle", live.name])
