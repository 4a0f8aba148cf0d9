"""The `edgetext` CLI contract, run as other tools run it: a subprocess (`python -m edgetext`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def edgetext(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    # the layout an install gives (setup.py maps both packages), also when running from a checkout
    path = os.pathsep.join(p for p in [str(ROOT / "sdk"), str(ROOT / "converters"),
                                       os.environ.get("PYTHONPATH", "")] if p)
    full_env = dict(os.environ, PYTHONPATH=path, **(env or {}))
    return subprocess.run([sys.executable, "-m", "edgetext", *args], input=stdin, capture_output=True, text=True,
                          env=full_env, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, match: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgetext: error: "), proc.stderr
    assert match in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_classify_texts_json(ort_bundle):
    p = edgetext("classify", str(ort_bundle), "这家店的菜很好吃", "太差了", "--json")
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["这家店的菜很好吃", "太差了"]
    for r in rows:
        assert set(r) == {"text", "label", "score", "index"}
        assert r["label"] in ("negative", "neutral", "positive") and 0 <= r["score"] <= 1


def test_classify_texts_may_follow_options(ort_bundle):
    before = edgetext("classify", str(ort_bundle), "物流很快", "太差了", "--json")
    after = edgetext("classify", str(ort_bundle), "--json", "物流很快", "--top-k", "1", "太差了")
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
    assert_one_line_error(edgetext("classify", str(ort_bundle), "--json", "x", "--bogus"), 2, "--bogus")


def test_classify_top_k_json_keeps_top1_fields(tiny_bundle):
    p = edgetext("classify", str(tiny_bundle), "物流很快", "--top-k", "3", "--json", "--backend", "paddlelite",
                 "--threads", "1")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert len(r["categories"]) == 3
    assert (r["label"], r["score"], r["index"]) == tuple(r["categories"][0][k] for k in ("label", "score", "index"))


def test_classify_reads_stdin_one_text_per_line(ort_bundle):
    p = edgetext("classify", str(ort_bundle), "--json", stdin="第一行\n第二行\n\nlast line\n")
    assert p.returncode == 0, p.stderr
    assert [json.loads(x)["text"] for x in p.stdout.splitlines()] == ["第一行", "第二行", "", "last line"]
    plain = edgetext("classify", str(ort_bundle), "物流很快")
    assert plain.returncode == 0 and plain.stdout.endswith("\t物流很快\n")


def test_backends_agree_through_the_cli(tiny_bundle):
    texts = "\n".join(["这家店的菜很好吃", "房间太小了", "Hello world", "差评", ""]) + "\n"
    a = edgetext("classify", str(tiny_bundle), "--json", "--model", "model.x86_64.fp32.onnx", stdin=texts)
    b = edgetext("classify", str(tiny_bundle), "--json", "--backend", "paddlelite", stdin=texts)
    assert a.returncode == b.returncode == 0
    assert [json.loads(x)["label"] for x in a.stdout.splitlines()] == \
           [json.loads(x)["label"] for x in b.stdout.splitlines()]


def test_info_text_and_json(ort_bundle):
    p = edgetext("info", str(ort_bundle))
    assert p.returncode == 0 and "negative, neutral, positive" in p.stdout and "model.x86_64.int8.onnx" in p.stdout
    j = json.loads(edgetext("info", str(ort_bundle), "--json").stdout)
    assert j["labels"] == ["negative", "neutral", "positive"] and len(j["models"]) == 2
    assert all(m["runs_here"] for m in j["models"])


def test_info_says_how_the_bundle_was_built():
    """The converter's pass lines (here: width pruning, vocabulary trimming) in `info`, text and JSON."""
    pruned = ROOT / "bundles" / "reviews-zh-pruned.etb"
    p = edgetext("info", str(pruned))
    assert p.returncode == 0, p.stderr
    built = [line for line in p.stdout.splitlines() if line.startswith("built ")]
    assert built and any("prune: heads=0.5,ffn=0.5" in line for line in p.stdout.splitlines())
    j = json.loads(edgetext("info", str(pruned), "--json").stdout)
    assert any(s.startswith("trim_vocab:") for s in j["conversion"])


def test_conversion_steps_are_printable_and_bounded():
    from edgetext.bundle import _conversion_steps

    assert _conversion_steps(None) == [] and _conversion_steps({"passes": "x"}) == []
    got = _conversion_steps({"passes": ["ok", 3, "\x1b[2Jclear", "y" * 1000] + ["z"] * 50})
    assert got[:2] == ["ok", "?[2Jclear"] and len(got[2]) == 300 and len(got) == 19


def test_verify_ok_and_tampered(ort_bundle, tmp_path):
    ok = edgetext("verify", str(ort_bundle), "--predictions")
    assert ok.returncode == 0 and ok.stdout.startswith("OK ") and "golden predictions" in ok.stdout
    bad = tmp_path / "bad.etb"
    with zipfile.ZipFile(ort_bundle) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "vocab.txt":
                data = data.replace(b"[UNK]", b"[UNX]")  # same size, other bytes
            zout.writestr(info, data)
    assert_one_line_error(edgetext("verify", str(bad)), 1, "checksum mismatch for 'vocab.txt'")


def test_bench_json_reports_percentiles_split_and_rss(ort_bundle, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("这家店的菜很好吃\n太差了\n物流很快，包装完好。\n", encoding="utf-8")
    p = edgetext("bench", str(ort_bundle), "--texts", str(texts), "--batch-size", "4", "--threads", "1",
                 "--repeat", "4", "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["texts"] == 12 and r["batches"] == 3 and r["batch_size"] == 4
    assert r["latency_ms"]["p50"] <= r["latency_ms"]["p90"] <= r["latency_ms"]["p99"]
    assert r["throughput_texts_per_s"] > 0 and r["peak_rss_mb"] > 10
    assert r["tokenizer_s"] > 0 and r["model_s"] > 0 and 0 < r["tokenizer_share"] < 1
    human = edgetext("bench", str(ort_bundle), "--repeat", "1")
    assert human.returncode == 0 and "p99" in human.stdout and "peak RSS" in human.stdout


def test_bench_paddle_lite(tiny_bundle):
    p = edgetext("bench", str(tiny_bundle), "--repeat", "1", "--backend", "paddlelite", "--threads", "1")
    assert p.returncode == 0 and "paddlelite fp32" in p.stdout and "p50" in p.stdout


@pytest.mark.parametrize("args,code,match", [
    (["classify", "/no/such/bundle.etb", "x"], 1, "bundle not found"),
    (["classify"], 2, "required: BUNDLE"),
    (["classify", "B", "x", "--top-k", "0"], 2, "must be >= 1"),
    (["classify", "B", "x", "--backend", "tensorrt"], 2, "invalid choice"),
    (["bench", "B", "--threads", "many"], 2, "not an integer"),
    (["frobnicate"], 2, "invalid choice"),
    (["info", "/etc/hostname"], 1, "not a valid .etb"),
])
def test_errors_are_one_line_with_exit_codes(args, code, match, ort_bundle):
    args = [str(ort_bundle) if a == "B" else a for a in args]
    assert_one_line_error(edgetext(*args), code, match)


def test_unavailable_backend_is_a_runtime_error(ort_bundle):
    assert_one_line_error(edgetext("classify", str(ort_bundle), "x", "--device", "cuda"), 1, "Available here")
    assert_one_line_error(edgetext("classify", str(ort_bundle), "x", "--backend", "paddlelite"), 1,
                          "Available here: onnxruntime")
    assert_one_line_error(edgetext("bench", str(ort_bundle), "--texts", "/no/such/file"), 1, "No such file")


def test_help_everywhere():
    for cmd in ([], ["classify"], ["info"], ["verify"], ["bench"]):
        p = edgetext(*cmd, "--help")
        assert p.returncode == 0 and "usage: edgetext" in p.stdout


def test_convert_is_delegated_or_explains_the_extra():
    p = edgetext("convert", "--help")
    if (ROOT / "converters" / "edgetext_converters" / "cli.py").is_file():
        assert p.returncode == 0 and "usage" in p.stdout.lower(), p.stderr
    else:
        assert_one_line_error(p, 1, "pip install -e '.[convert]'")


def test_convert_without_the_converters_explains_the_extra(tmp_path):
    """A Python where edgetext_converters cannot be imported (as after `pip install edgetext`)."""
    blocker = tmp_path / "edgetext_converters"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('No module named paddle', name='paddle')\n")
    p = subprocess.run([sys.executable, "-m", "edgetext", "convert", "x"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT / "sdk")])))
    assert_one_line_error(p, 1, "paddle is not importable): they run on a host from an EdgeText source checkout")


def test_stdin_is_classified_in_chunks_in_order(ort_bundle, monkeypatch, capsys):
    """In-process: a long stdin stream is read, classified and printed chunk by chunk."""
    import io

    from edgetext import cli

    lines = [f"第{i}行 text {i}" for i in range(7)]
    monkeypatch.setattr(cli, "STDIN_CHUNK", 3)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert cli.main(["classify", str(ort_bundle), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == lines


def test_stdin_that_is_not_utf8_names_the_line(ort_bundle):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "sdk"), str(ROOT / "converters")]))
    proc = subprocess.run([sys.executable, "-m", "edgetext", "classify", str(ort_bundle)],
                          input=b"good\nabc\xff\xfe\n", capture_output=True, env=env, timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert err.count("\n") == 1 and "stdin line 2 is not valid UTF-8" in err and "Traceback" not in err


# -- issue 13 (findings 8, 9, 11): no tracebacks, bounded threads, output and input edge cases ----------
def test_good_stdin_lines_before_a_bad_one_are_classified(ort_bundle):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "sdk"), str(ROOT / "converters")]))
    proc = subprocess.run([sys.executable, "-m", "edgetext", "classify", str(ort_bundle), "--json"],
                          input=b"first\nsecond\nabc\xff\nnever\n", capture_output=True, env=env, timeout=300)
    rows = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert [r["text"] for r in rows] == ["first", "second"], "the good lines before the bad one are printed"
    assert proc.returncode == 1 and "stdin line 3 is not valid UTF-8" in proc.stderr.decode()


def test_classify_with_stdout_closed_is_one_line_not_a_traceback(ort_bundle):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "sdk"), str(ROOT / "converters")]))
    proc = subprocess.run(f"{sys.executable} -m edgetext classify {ort_bundle} hello >&-", shell=True,
                          capture_output=True, text=True, env=env, timeout=300)
    assert_one_line_error(proc, 1, "stdout is closed")


def test_bench_texts_that_are_not_utf8_name_the_file_and_line(ort_bundle, tmp_path):
    bad = tmp_path / "texts.txt"
    bad.write_bytes(b"ok line\nsecond\n\xff\xfe broken\n")
    assert_one_line_error(edgetext("bench", str(ort_bundle), "--texts", str(bad)), 1, f"--texts {bad}:3: not valid "
                                                                                      "UTF-8")
    assert_one_line_error(edgetext("bench", str(ort_bundle), "--texts", str(tmp_path / "nope.txt")), 1,
                          "No such file")


@pytest.mark.parametrize("command", [["classify", "{b}", "x"], ["verify", "{b}", "--predictions"],
                                     ["bench", "{b}"], ["eval", "{b}", "--data", "x"]])
def test_threads_over_the_cap_are_a_usage_error(ort_bundle, command):
    args = [a.format(b=ort_bundle) for a in command] + ["--threads", "100000"]
    assert_one_line_error(edgetext(*args), 2, "more than 4 x the")


def test_unexpected_errors_are_one_line_without_a_traceback(ort_bundle, monkeypatch, capsys):
    from edgetext import cli

    def boom(args):
        raise NotImplementedError("zip file version 9.9")
    monkeypatch.setitem(cli.COMMANDS, "info", boom)
    assert cli.main(["info", str(ort_bundle)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (NotImplementedError" in err and "Traceback" not in err


def test_hostile_archives_are_one_line_errors(tmp_path):
    etb = tmp_path / "v.etb"
    with zipfile.ZipFile(etb, "w") as zf:
        zf.writestr("manifest.json", "{}")
    data = bytearray(etb.read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 6:cd + 8] = (99).to_bytes(2, "little")  # "version needed to extract" 9.9
    etb.write_bytes(bytes(data))
    for command in ("info", "verify"):
        assert_one_line_error(edgetext(command, str(etb)), 1, "zip feature this SDK does not read")
