"""Shared fixtures: the repository's test clips and the stand-in driver."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The repository root (tests/data, target/standin); NVCG_REPO overrides it.
ROOT = Path(os.environ.get("NVCG_REPO") or Path(__file__).resolve().parents[4])
DATA = ROOT / "tests" / "data"


def standin_library() -> Path | None:
    """The stand-in driver built by `cargo test --test standin` (tests/standin.rs)."""
    for candidate in (
        ROOT / "target" / "standin" / "lib" / "libnvcodec_standin.so",
        ROOT / "target" / "standin" / "release" / "libnvcodec_standin.so",
        ROOT / "target" / "standin" / "debug" / "libnvcodec_standin.so",
    ):
        if candidate.exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def standin_dir(tmp_path_factory) -> Path:
    """A directory where the three NVIDIA sonames are links to one stand-in file, so the
    dynamic loader maps it once and the three "libraries" share one state."""
    lib = standin_library()
    if lib is None:
        pytest.skip("the stand-in driver is not built (cargo test --test standin builds it)")
    d = tmp_path_factory.mktemp("standin")
    for soname in ("libcuda.so.1", "libnvcuvid.so.1", "libnvidia-encode.so.1"):
        (d / soname).symlink_to(lib)
    return d


@pytest.fixture
def run_with_standin(standin_dir):
    """Runs a Python snippet in a child process whose libcuda.so.1 is the stand-in; returns
    the completed process (stdout, stderr, returncode)."""

    def run(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = str(standin_dir)
        env["NVCG_DATA"] = str(DATA)
        prelude = textwrap.dedent(
            """
            import ctypes, os, sys
            import nvcodec_guard as nv
            DATA = os.environ["NVCG_DATA"]
            standin = ctypes.CDLL("libcuda.so.1")
            def fail(call, status):
                standin.standin_set_status(call.encode(), status)
            """
        )
        return subprocess.run(
            [sys.executable, "-c", prelude + textwrap.dedent(code)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs an NVIDIA GPU and PyTorch")
