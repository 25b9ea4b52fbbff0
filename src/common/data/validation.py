"""Great Expectations (1.x) suites from ``expectations/*.json`` over pipeline batches.

Why GX with derived columns: the suites stay declarative files a reviewer can read, while checks
GX has no expectation for (BIO well-formedness via ``common.text.spans.is_valid_bio``, tag/token
alignment, a cheap language guess) are computed here as columns the suites then expect things
of. Every row of a batch ends up either valid or quarantined with the expectations it failed:

* a failing row-level expectation quarantines the rows it flags (nothing is dropped silently),
* a failing expectation marked ``"meta": {"blocking": true}`` (empty batch, missing column,
  duplicate ids) or a quarantined share above the suite's ``max_quarantine_share`` blocks the
  batch: ``ValidationOutcome.blocked`` is set and ``raise_if_blocked`` raises
  ``BlockingValidationError`` with a sentence naming the expectation.

Results are written as JSON and as GX Data Docs HTML under ``<data_dir>/validation/``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from common.data.extract import guess_language
from common.data.records import QuarantineRecord
from common.text.spans import is_valid_bio

SUITES = ("postings", "span_labels", "group_labels")
KNOWN_LAYERS = frozenset({"Skill", "Knowledge"})
_RUN = re.compile(r"(.)\1*")


class BlockingValidationError(RuntimeError):
    """A batch failed an expectation that stops the pipeline."""


def expectations_dir() -> Path:
    """``settings.expectations_dir``, else the repository's ``expectations/``, else ``./expectations``."""
    from common.core.settings import get_settings

    configured = get_settings().expectations_dir
    if configured:
        return Path(configured)
    repo = Path(__file__).resolve().parents[3] / "expectations"
    return repo if repo.is_dir() else Path.cwd() / "expectations"


def load_suite_spec(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The suite file ``<directory>/<name>.json`` as a dict (GX suite JSON plus our meta keys)."""
    path = Path(directory or expectations_dir()) / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"expectation suite {name!r} not found at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# Derived columns: one prepared frame per suite; `_row` points back at the original row.
# --------------------------------------------------------------------------------------------


def _max_run(text: Any) -> int:
    if not isinstance(text, str) or not text:
        return 0
    return max((len(m.group(0)) for m in _RUN.finditer(text) if not m.group(1).isspace()), default=0)


def prepare_postings(df: pd.DataFrame) -> pd.DataFrame:
    """Postings plus ``word_count`` and ``max_char_repeat``; empty strings count as missing text."""
    out = df.copy()
    for col in ("posting_id", "text", "title", "url", "date_posted", "language"):
        if col not in out.columns:
            if col in ("posting_id", "text"):
                continue  # left missing on purpose: the blocking expect_column_to_exist reports it
            out[col] = None
    if "text" in out.columns:
        out["text"] = [t if isinstance(t, str) and t.strip() else None for t in out["text"]]
        out["word_count"] = [len(t.split()) if isinstance(t, str) else 0 for t in out["text"]]
        out["max_char_repeat"] = [_max_run(t) for t in out["text"]]
        # rows that arrive without a language (older rows, other producers) get the same guess as ingest
        out["language"] = [
            lang if isinstance(lang, str) and lang else (guess_language(t) if isinstance(t, str) else None)
            for lang, t in zip(out["language"], out["text"], strict=True)
        ]
    out["_row"] = range(len(out))
    return out.reset_index(drop=True)


def _span_checks(value: Any) -> dict[str, Any]:
    value = value if isinstance(value, dict) else {}
    tokens = value.get("tokens")
    tags = value.get("tags")
    n = len(tokens) if isinstance(tokens, list) else 0
    if not isinstance(tags, dict) or not tags:
        return {"n_tokens": n, "layers_known": False, "tags_aligned": False, "tag_vocab_ok": False, "bio_valid": False}
    layers = [t if isinstance(t, list) else [] for t in tags.values()]
    vocab_ok = all(isinstance(x, str) and x in ("B", "I", "O") for layer in layers for x in layer)
    return {
        "n_tokens": n,
        "layers_known": set(tags) <= KNOWN_LAYERS,
        "tags_aligned": all(len(layer) == n for layer in layers),
        "tag_vocab_ok": vocab_ok,
        "bio_valid": vocab_ok and all(is_valid_bio(layer) for layer in layers),
    }


def prepare_span_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Span label rows (``value`` = tokens + tag layers) plus the BIO/alignment check columns."""
    out = df.copy().reset_index(drop=True)
    for col in ("label_id", "doc_id", "annotator"):
        if col not in out.columns:
            out[col] = None
    checks = pd.DataFrame([_span_checks(v) for v in out.get("value", pd.Series([None] * len(out)))])
    out = pd.concat([out.drop(columns=[c for c in checks.columns if c in out.columns]), checks], axis=1)
    out["_row"] = range(len(out))
    return out


def prepare_group_labels(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (group label, code): ``skill``, ``level``, ``group_code``; no codes -> one null row."""
    rows = []
    for i, rec in enumerate(df.reset_index(drop=True).to_dict(orient="records")):
        value = rec.get("value") if isinstance(rec.get("value"), dict) else {}
        skill = value.get("skill", rec.get("item"))
        skill = skill if isinstance(skill, str) and skill.strip() else None
        codes = value.get("groups")
        codes = [codes] if isinstance(codes, str) else (codes if isinstance(codes, list) else [])
        base = {"_row": i, "label_id": rec.get("label_id"), "annotator": rec.get("annotator"), "skill": skill,
                "level": value.get("level", 2)}
        for code in codes or [None]:
            rows.append({**base, "group_code": str(code).strip() if code not in (None, "") else None})
    cols = ["_row", "label_id", "annotator", "skill", "level", "group_code"]
    return pd.DataFrame(rows, columns=cols)


PREPARE = {"postings": prepare_postings, "span_labels": prepare_span_labels, "group_labels": prepare_group_labels}


def esco_group_codes(esco_dir: Path) -> list[str] | None:
    """All ESCO group codes from ``<esco_dir>/groups.csv`` (None when the file is absent)."""
    path = Path(esco_dir) / "groups.csv"
    if not path.exists():
        return None
    return sorted(pd.read_csv(path, dtype=str)["code"].dropna().unique().tolist())


# --------------------------------------------------------------------------------------------
# Running a suite
# --------------------------------------------------------------------------------------------


@dataclass
class ExpectationOutcome:
    """One expectation's result in a validation run."""

    id: str  # "type(column)"
    reason: str
    success: bool
    blocking: bool
    unexpected_rows: list[int] = field(default_factory=list)  # original row positions
    observed: Any = None


@dataclass
class ValidationOutcome:
    """Result of validating one batch: which original rows are valid and which are quarantined."""

    suite: str
    n_rows: int
    valid_rows: list[int]
    failed: dict[int, list[ExpectationOutcome]]
    expectations: list[ExpectationOutcome]
    skipped: list[str]
    blocked: bool
    block_reasons: list[str]
    result_path: Path | None = None
    docs_path: Path | None = None

    @property
    def success(self) -> bool:
        return not self.blocked and not self.failed

    def quarantine_records(self, original: pd.DataFrame, key_column: str, table: str,
                           run_id: str | None = None) -> list[QuarantineRecord]:
        """One quarantine row per failed original row, naming every expectation it failed."""
        recs = []
        rows = original.reset_index(drop=True)
        for pos, outs in sorted(self.failed.items()):
            row = rows.iloc[pos].to_dict()
            recs.append(QuarantineRecord(
                stage="validate", source_table=table, row_key=str(row.get(key_column, pos)),
                reason="; ".join(dict.fromkeys(o.reason for o in outs)),
                expectation=", ".join(dict.fromkeys(o.id for o in outs)),
                row=json.loads(json.dumps(row, default=str)), run_id=run_id,
            ))
        return recs

    def summary(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "rows": self.n_rows, "valid": len(self.valid_rows), "quarantined": len(self.failed),
            "blocked": self.blocked, "block_reasons": self.block_reasons,
            "failed_expectations": {e.id: len(e.unexpected_rows) for e in self.expectations if not e.success},
            "skipped_expectations": self.skipped,
            "result_path": str(self.result_path) if self.result_path else None,
            "docs_path": str(self.docs_path) if self.docs_path else None,
        }


def raise_if_blocked(outcome: ValidationOutcome) -> None:
    if outcome.blocked:
        raise BlockingValidationError(
            f"validation of the {outcome.suite} batch ({outcome.n_rows} rows) stopped the pipeline: "
            + "; ".join(outcome.block_reasons)
        )


def _exp_id(cfg: dict[str, Any]) -> str:
    col = cfg.get("kwargs", {}).get("column")
    return f"{cfg['type']}({col})" if col else cfg["type"]


def _gx_context(docs_dir: Path | None):
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    try:  # no progress bars in logs
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # pragma: no cover - older/newer GX
        pass
    if docs_dir is not None:
        ctx.add_data_docs_site(
            site_name="jobskills",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return ctx


def validate_batch(
    suite: str,
    df: pd.DataFrame,
    parameters: dict[str, Any] | None = None,
    out_dir: Path | None = None,
    run_id: str | None = None,
    expectations_path: Path | None = None,
) -> ValidationOutcome:
    """Validate ``df`` (rows as the store returns them) with suite ``suite``.

    ``parameters`` fill ``{"$PARAMETER": name}`` values in the suite (e.g. ``esco_group_codes``);
    expectations whose parameters are not given are skipped and listed in ``skipped``.
    ``out_dir`` (e.g. ``<data_dir>/validation``) receives ``results/<suite>-<time>.json`` and
    Data Docs HTML under ``data_docs/``.
    """
    import great_expectations as gx

    spec = load_suite_spec(suite, expectations_path)
    meta = spec.get("meta", {})
    params = {k: v for k, v in (parameters or {}).items() if v is not None}
    frame = PREPARE[suite](df)
    exps, skipped = [], []
    for e in spec["expectations"]:
        needed = [v["$PARAMETER"] for v in e.get("kwargs", {}).values() if isinstance(v, dict) and "$PARAMETER" in v]
        if any(p not in params for p in needed):
            skipped.append(_exp_id(e))
            continue
        if e["type"] != "expect_column_to_exist" and (col := e.get("kwargs", {}).get("column")) and col not in frame:
            # a missing column fails its expectations instead of crashing GX
            exps.append({"type": "expect_column_to_exist", "kwargs": {"column": col},
                         "meta": {"blocking": True, "reason": f"column {col} missing"}})
            continue
        exps.append(e)
    # GX needs the frame's columns to exist; _row stays in the frame (ignored by the suite)
    docs_dir = Path(out_dir) / "data_docs" if out_dir else None
    ctx = _gx_context(docs_dir)
    gx_suite = ctx.suites.add(gx.ExpectationSuite(name=suite, expectations=exps, meta={k: v for k, v in meta.items()
                                                                                        if isinstance(v, (str, int, float))}))
    batch_def = ctx.data_sources.add_pandas("pipeline").add_dataframe_asset(suite).add_batch_definition_whole_dataframe(
        "batch"
    )
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(data=batch_def, suite=gx_suite, name=f"{suite}-batch"))
    actions = [gx.checkpoint.UpdateDataDocsAction(name="data-docs")] if docs_dir else []
    checkpoint = ctx.checkpoints.add(gx.Checkpoint(
        name=f"{suite}-checkpoint", validation_definitions=[vd], actions=actions,
        result_format={"result_format": "COMPLETE"},
    ))
    result = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=params or None)
    vres = next(iter(result.run_results.values()))

    row_of = frame["_row"].tolist() if "_row" in frame else list(range(len(frame)))
    outcomes: list[ExpectationOutcome] = []
    for r in vres.results:
        cfg = r.expectation_config
        m = cfg.meta or {}
        res = r.result or {}
        unexpected = sorted({row_of[i] for i in res.get("unexpected_index_list") or [] if isinstance(i, int)})
        if r.exception_info and r.exception_info.get("raised_exception"):
            msg = r.exception_info.get("exception_message", "error")
            outcomes.append(ExpectationOutcome(_exp_id(cfg.to_json_dict()), f"{m.get('reason', cfg.type)} ({msg})",
                                               False, True, [], None))
            continue
        outcomes.append(ExpectationOutcome(
            id=_exp_id(cfg.to_json_dict()), reason=str(m.get("reason", cfg.type)), success=bool(r.success),
            blocking=bool(m.get("blocking", False)), unexpected_rows=unexpected, observed=res.get("observed_value"),
        ))

    n = int(df.shape[0])
    failed: dict[int, list[ExpectationOutcome]] = {}
    for o in outcomes:
        if o.blocking:
            continue
        for pos in o.unexpected_rows:
            failed.setdefault(pos, []).append(o)
    block_reasons = list(dict.fromkeys(
        f"blocking expectation {o.id} failed ({o.reason}"
        + (f"; observed {o.observed}" if o.observed is not None else "") + ")"
        for o in outcomes if o.blocking and not o.success
    ))
    max_share = float(meta.get("max_quarantine_share", 1.0))
    if n and len(failed) / n > max_share:
        block_reasons.append(
            f"{len(failed)} of {n} rows failed row-level expectations, more than the allowed share {max_share:.0%}"
        )
    blocked = bool(block_reasons)
    valid = [] if blocked else [i for i in range(n) if i not in failed]

    result_path = None
    if out_dir:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        result_path = Path(out_dir) / "results" / f"{suite}-{stamp}.json"
        result_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"suite": suite, "run_id": run_id, "blocked": blocked, "block_reasons": block_reasons,
                   "rows": n, "quarantined": len(failed), "skipped_expectations": skipped,
                   "gx_result": vres.to_json_dict()}
        tmp = result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, result_path)
    return ValidationOutcome(
        suite=suite, n_rows=n, valid_rows=valid, failed=failed, expectations=outcomes, skipped=skipped,
        blocked=blocked, block_reasons=block_reasons, result_path=result_path,
        docs_path=(docs_dir / "index.html") if docs_dir else None,
    )
