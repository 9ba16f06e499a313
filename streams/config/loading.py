"""SLO configuration: both seed formats parsed and validated onto one internal model.

Two file shapes are accepted and may be combined:

* the service map (``configs/slo_config.yaml``): ``services: {name: {sli_type, target,
  window_days, alerts: {rule: {window_minutes, threshold}}}}``;
* the policy document (``configs/error-budget-policy.yaml``): ``policy: {version,
  services: [{name, sli, slo, burn_rates, enforcement}]}``.

Either may carry ``settings`` (engine tuning) and ``notifications`` (receivers). Every problem is
reported as one line ``FILE: field.path: expectation, got VALUE``; nothing else reaches the user.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streams.config import openslo, safe_yaml
from streams.config.checks import routing_warnings, secret_warnings, slo_set_errors
from streams.config.errors import ConfigError, describe
from streams.config.model import Config
from streams.config.notifications import Notifications
from streams.config.otlp import Otlp
from streams.config.policy_document import PolicyFile, policy_slos
from streams.config.service_map import ServiceMapFile, service_map_slos
from streams.config.settings import Settings
from streams.core.brief import brief
from streams.core.slo import SLO

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(node: Any, path: str, env: Mapping[str, str], errors: list[str]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in string values; an unset VAR is an error."""
    if isinstance(node, dict):
        return {
            k: _expand_env(v, f"{path}.{k}" if path else str(k), env, errors)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_expand_env(v, f"{path}[{i}]", env, errors) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        errors.append(
            f"{path}: environment variable {name} must be set (referenced as ${{{name}}})"
        )
        return ""

    if "${" in _ENV_REF.sub("", node):  # a reference the pattern did not take
        errors.append(
            f"{path}: malformed ${{...}} reference in {brief(node)}; expected ${{NAME}} "
            "or ${NAME:-default} (NAME: letters, digits, _; closed by })"
        )
        return node
    return _ENV_REF.sub(sub, node)


def read_yaml(path: Path) -> Any:
    try:
        raw, _ = safe_yaml.read_regular_file(path, safe_yaml.MAX_FILE_BYTES)
        text = raw.decode("utf-8")
    except OSError as e:
        raise ConfigError([f"{path}: cannot read file: {e.strerror or e}"]) from None
    except safe_yaml.FileRefused as e:
        raise ConfigError([f"{path}: cannot read file: {e}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: expected UTF-8 text"]) from None
    try:
        # Safe and bounded (streams.config.safe_yaml). Several documents only for OpenSLO files.
        docs = safe_yaml.load_all(text)
        return docs[0] if len(docs) == 1 else docs
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "document"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError([f"{path}: {where}: invalid YAML: {problem}"]) from None


def _from_openslo(path: Path, data: Any) -> tuple[dict[str, Any], list[str]]:
    try:
        policy, found = openslo.to_policy(data if isinstance(data, list) else [data])
    except openslo.OpenSloError as e:
        raise ConfigError([f"{path}: {line}" for line in e.lines]) from None
    return policy, [f"{path}: {w}" for w in found]


def openslo_policy(path: Path) -> tuple[dict[str, Any], list[str]]:
    """An OpenSLO file as a sloburn policy document, with the warnings about what it leaves
    out (``sloburn convert --to sloburn``); ConfigError if it cannot be converted."""
    return _from_openslo(path, read_yaml(path))


def _parse_file(
    path: Path, env: Mapping[str, str]
) -> tuple[ServiceMapFile | PolicyFile, list[str]]:
    """The file's model and its warnings (what an OpenSLO file holds that sloburn ignores)."""
    data = read_yaml(path)
    warnings: list[str] = []
    if openslo.is_openslo(data if isinstance(data, list) else [data]):
        data, warnings = _from_openslo(path, data)
    if not isinstance(data, dict) or not ({"services", "policy"} & data.keys()):
        raise ConfigError(
            [
                f"{path}: (top level): expected a mapping with 'services' (SLO service map) "
                f"or 'policy' (error-budget policy), got {brief(type(data).__name__)}"
            ]
        )
    env_errors: list[str] = []
    data = _expand_env(data, "", env, env_errors)
    model_cls: type[ServiceMapFile] | type[PolicyFile] = (
        PolicyFile if "policy" in data else ServiceMapFile
    )
    try:
        doc = model_cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(
            [f"{path}: {describe(err)}" for err in e.errors()]
            + [f"{path}: {m}" for m in env_errors]
        ) from None
    if env_errors:
        raise ConfigError([f"{path}: {m}" for m in env_errors])
    return doc, warnings


def load_config(paths: Iterable[str | Path], env: Mapping[str, str] | None = None) -> Config:
    """Load and merge config files; raises ConfigError with every problem found, one per line.

    Files are parsed first and mapped after, so ``settings`` from any file (bucket size) shape
    the alert windows of every file.
    """
    env = os.environ if env is None else env
    errors: list[str] = []
    docs: list[tuple[str, ServiceMapFile | PolicyFile]] = []
    sources = [str(p) for p in paths]
    warnings: list[str] = []
    for source in sources:
        try:
            doc, noted = _parse_file(Path(source), env)
            docs.append((source, doc))
            warnings.extend(noted)
        except ConfigError as e:
            errors.extend(e.lines)
    if not sources:
        errors.append("(no config): expected at least one config file")
    settings = [(src, d.settings) for src, d in docs if d.settings is not None]
    notes = [(src, d.notifications) for src, d in docs if d.notifications is not None]
    otlp = [(src, d.otlp) for src, d in docs if d.otlp is not None]
    sections: tuple[tuple[str, list[Any]], ...] = (
        ("settings", settings),
        ("notifications", notes),
        ("otlp", otlp),
    )
    for label, found in sections:
        if len(found) > 1:
            errors.append(
                f"{found[1][0]}: {label}: expected in one file only, also in {found[0][0]}"
            )
    merged = settings[0][1] if settings else Settings()
    slos: list[SLO] = []
    for src, doc in docs:
        if isinstance(doc, PolicyFile):
            slos.extend(policy_slos(doc, src, merged.bucket_seconds))
        else:
            slos.extend(service_map_slos(doc, src, merged.bucket_seconds))
    errors += slo_set_errors(slos, merged.bucket_seconds)
    warnings += routing_warnings(slos)
    if errors:
        raise ConfigError(errors)
    if notes:
        warnings += secret_warnings(*notes[0])
    return Config(
        slos=tuple(slos),
        settings=merged,
        notifications=notes[0][1] if notes else Notifications(),
        otlp=otlp[0][1] if otlp else Otlp(),
        sources=tuple(sources),
        warnings=tuple(warnings),
    )
