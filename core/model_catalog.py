"""The models the operator allows: the only endpoints Trellis sends a trace, and a key, to.

A page offers these entries by name and nothing else, so a visitor never chooses where the
server's credentials go. Entries come from a models file (``$TRELLIS_MODELS``, else
``./trellis-models.toml`` if present) and from the ``[models.NAME]`` tables of
``.streamlit/secrets.toml``, which pages/ui.py passes in::

    [models.gpt-4o-mini]
    model = "openai/gpt-4o-mini"          # a litellm model string
    api_key_env = "OPENAI_API_KEY"        # the *name* of the variable holding the key

    [models.local-llama]
    model = "openai/llama3.1"
    api_base = "http://127.0.0.1:11434/v1"
    timeout = 120
    context_tokens = 8192                 # its context window: critique prompts are fitted into it

The built-in offline critic ``trellis/structural`` is always first, and the default. While a
local model server is running (``trellis model serve``, core.runtime), the entry ``local`` offers
it: ``openai/ALIAS`` at its loopback URL, no key, the schema sent as llama.cpp takes it, and the
window the server was started with.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import TrellisError

STRUCTURAL = "trellis/structural"
DEFAULT_MODELS_FILE = "trellis-models.toml"
SECRETS_SOURCE = ".streamlit/secrets.toml"
# Sent to an api_base that has no key of its own: litellm would otherwise fill in the provider's
# key from the environment (OPENAI_API_KEY, ...) and send it to that base.
NO_KEY = "trellis-no-key"
MAX_TIMEOUT = 600.0  # seconds per call; the Critique page offers 1 to this
LOCAL = "local"  # the entry of the running local model server, if any


class CatalogError(TrellisError):
    """The models configuration cannot be used, or names no such model."""


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    model: str = Field(min_length=1)
    api_base: str | None = Field(default=None, pattern=r"^https?://\S+$")
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout: float | None = Field(default=None, ge=1, le=MAX_TIMEOUT)
    # llama.cpp's servers take a JSON schema as {"type": "json_object", "schema": ...} (and
    # llama-cpp-python's rejects OpenAI's "json_schema"): send it that way to this endpoint.
    json_object_schema: bool = False
    # The model's context window in tokens, when known: a critique prompt is cut to leave its answer room
    # there. Unknown (None), the whole prompt is sent, as to a hosted model with a large window.
    context_tokens: int | None = Field(default=None, ge=1)

    def litellm_kwargs(self) -> dict[str, Any]:
        """model, api_base and api_key for a call to this entry: its own key, and only to its own endpoint."""
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise CatalogError(f"model {self.name!r}: environment variable {self.api_key_env} is not set")
        elif self.api_base:
            key = NO_KEY
        else:
            key = None  # the provider's own endpoint, with the provider's key from the environment
        return {"model": self.model, "api_base": self.api_base, "api_key": key}


BUILT_IN = ModelEntry(name=STRUCTURAL, model=STRUCTURAL)


def load_catalog(secrets: Mapping[str, Any] | None = None, *, db: str | None = None) -> dict[str, ModelEntry]:
    """The built-in critic, then the models file's entries, then ``secrets`` (the ``models`` table of secrets.toml),
    then ``local`` if a local model server runs beside database ``db`` (default: $TRELLIS_STORE, else ./trellis.lake)."""
    catalog = {STRUCTURAL: BUILT_IN}
    path = os.environ.get("TRELLIS_MODELS")
    if path and not Path(path).is_file():
        raise CatalogError(f"{path}: no such models file (named by TRELLIS_MODELS)")
    path = path or (DEFAULT_MODELS_FILE if Path(DEFAULT_MODELS_FILE).is_file() else None)
    if path:
        try:
            document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CatalogError(f"{path}: not a readable TOML file: {exc}") from None
        if set(document) - {"models"}:
            raise CatalogError(f"{path}: only [models.NAME] tables belong here, not {sorted(set(document) - {'models'})}")
        _add(catalog, document.get("models", {}), path)
    if secrets:
        _add(catalog, secrets, SECRETS_SOURCE)
    if LOCAL not in catalog and (local := local_entry(db)) is not None:
        catalog[LOCAL] = local  # a models-file entry named "local" wins
    return catalog


def local_entry(db: str | None = None) -> ModelEntry | None:
    """The local model server running beside ``db`` (``trellis model serve``) as an entry, or None."""
    from core.runtime import running  # reads a state file and asks the server's /health; no litellm
    from core.store import default_db_path

    db = db or default_db_path()
    state = None if db == ":memory:" else running(db)
    if state is None:
        return None
    return ModelEntry(name=LOCAL, model=f"openai/{state.alias}", api_base=state.url, timeout=MAX_TIMEOUT,
                      json_object_schema=True, context_tokens=state.context)


def model_entry(name: str, fields: Mapping[str, Any], where: str) -> ModelEntry:
    """One validated entry; a bad one is a one-line error starting with ``where`` (file and entry)."""
    if "api_key" in fields:  # the message never repeats the value
        raise CatalogError(f"{where}: api_key: keys do not belong here; name the variable holding it in api_key_env")
    try:
        return ModelEntry.model_validate({**fields, "name": name})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in error["loc"])
        raise CatalogError(f"{where}: {field + ': ' if field else ''}{error['msg']}") from None


def lookup(catalog: Mapping[str, ModelEntry], name: str) -> ModelEntry:
    try:
        return catalog[name]
    except KeyError:
        raise CatalogError(f"no model named {name!r} is configured; configured: {', '.join(catalog)}") from None


def _add(catalog: dict[str, ModelEntry], tables: Any, source: str) -> None:
    if not isinstance(tables, Mapping):
        raise CatalogError(f"{source}: models must be a table of [models.NAME] tables")
    for name, fields in tables.items():
        if not isinstance(fields, Mapping):
            raise CatalogError(f"{source}: models.{name}: must be a table with at least model = \"...\"")
        if name in catalog:
            raise CatalogError(f"{source}: models.{name}: {'is built in' if name == STRUCTURAL else 'is defined twice'}")
        catalog[name] = model_entry(name, fields, f"{source}: models.{name}")
