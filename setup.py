"""One distribution, ``edgetext``: the runtime SDK (sdk/edgetext) with its package data and
the cffi extension ``edgetext._native`` compiled from native/. That is what a wheel or an
sdist carries (what a board installs). The converters (converters/edgetext_converters) run
on the development host from this tree: the editable install (``pip install -e .``,
``make venv``) maps them too, with their heavy deps behind the ``convert`` extra."""
import os
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

ROOT = Path(__file__).resolve().parent


def read_version() -> str:
    for line in (ROOT / "sdk" / "edgetext" / "_version.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip('"')
    raise RuntimeError("no __version__ in sdk/edgetext/_version.py")


class BuildExtFreshInode(build_ext):
    """In-place (editable) builds: unlink the old extension before copying the
    new one. Copying over it in place changes a file that running processes
    have mapped (SIGBUS); a fresh inode leaves them their old copy."""

    def copy_extensions_to_source(self) -> None:
        build_py = self.get_finalized_command("build_py")
        for ext in self.extensions:
            inplace_file, _ = self._get_inplace_equivalent(build_py, ext)
            if os.path.exists(inplace_file):
                os.unlink(inplace_file)
        super().copy_extensions_to_source()


class BuildPyOwnPackagesOnly(build_py):
    """bdist_wheel packs all of build/lib: drop the top-level packages an earlier build left there that
    this distribution no longer has (the converters, from before wheels were the runtime only)."""

    def run(self) -> None:
        keep = {p.split(".")[0] for p in self.distribution.packages or []}
        lib = Path(self.build_lib)
        for child in lib.iterdir() if lib.is_dir() else []:
            if child.is_dir() and child.name not in keep and (child / "__init__.py").is_file():
                shutil.rmtree(child)
        super().run()


def subpackages(name: str, folder: str) -> list[str]:
    """Every package under folder, found rather than listed (a new package must not silently miss the wheel)."""
    return [name, *(f"{name}.{q}" for q in find_packages(folder))]


class EditableWithConverters(editable_wheel):
    """The development install maps the converters as well: they are host tooling, so the wheel
    and the sdist (the runtime a device installs) leave them out."""

    def finalize_options(self) -> None:
        if (ROOT / "converters" / "edgetext_converters").is_dir():  # a checkout, not an unpacked sdist
            dist = self.distribution
            dist.package_dir["edgetext_converters"] = "converters/edgetext_converters"
            dist.packages = [*dist.packages,
                             *subpackages("edgetext_converters", "converters/edgetext_converters")]
        super().finalize_options()


setup(
    name="edgetext",
    cmdclass={"build_ext": BuildExtFreshInode, "build_py": BuildPyOwnPackagesOnly,
              "editable_wheel": EditableWithConverters},
    version=read_version(),
    description="On-device text classification: native Fast WordPiece, self-describing bundles, "
    "one predictor over ONNX Runtime and Paddle Lite",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    package_dir={"edgetext": "sdk/edgetext"},
    packages=subpackages("edgetext", "sdk/edgetext"),
    package_data={"edgetext": ["schema/*.json", "py.typed"]},
    cffi_modules=["native/build_ffi.py:ffi"],
    setup_requires=["cffi>=1.15"],
    install_requires=["numpy>=1.21", "cffi>=1.15", "onnxruntime>=1.16", "jsonschema>=4"],
    extras_require={
        "lite": ["paddlelite==2.13rc0", "numpy<2"],
        "convert": ["paddlepaddle==2.6.2", "paddle2onnx==1.3.1", "onnx", "safetensors", "tqdm"],
        "serve": ["aiohttp>=3.9"],
        "ray": ["ray[data]>=2.40"],  # edgetext.integrations.ray, edgetext classify-dataset
        # the OpenVINO backend (edgetext.backends.openvino) and, to convert for it, NNCF static int8
        "openvino": ["openvino>=2025.0", "nncf>=2.16"],  # edgetext serve (edgetext.serving): HTTP JSON API with dynamic batching
        "test": ["pytest", "hypothesis", "tokenizers"],
    },
    entry_points={"console_scripts": ["edgetext=edgetext.cli:main"]},
    # edgetext._native uses only the stable ABI (cffi builds it as _native.abi3.so): one wheel serves 3.10-3.13
    options={"bdist_wheel": {"py_limited_api": "cp310"}},
    zip_safe=False,
)
