"""Occupation commands: ``occupations`` (which ESCO occupation a posting describes) and
``esco build-occupations``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from jobskills.cli._util import console, fail, print_quality, read_text_arg, user_errors


def load_occupation_model(model: Optional[Path]) -> tuple[Any, Path]:
    from common.occupations.model import MODEL_FILE, OccupationModel, default_model_dir

    model_dir = Path(model or default_model_dir())
    if not (model_dir / MODEL_FILE).exists():
        raise FileNotFoundError(f"no occupation model at {model_dir}: build one with "
                                "'jobskills esco build-occupations' or pass --model")
    return OccupationModel.load(model_dir), model_dir


def load_default_occupations() -> Any:
    """The champion (else latest) occupation model; None, with a line on stderr, when none was built."""
    from common.occupations.model import MODEL_FILE, OccupationModel, default_model_dir

    path = default_model_dir()
    if not (path / MODEL_FILE).exists():
        console.print(f"no occupation model at {path}: essential skills are left out "
                      "(build one with 'jobskills esco build-occupations')")
        return None
    return OccupationModel.load(path)


def build_occupations_cmd(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="OccupationConfig YAML (configs/occupations.yaml)."),
    threads: Optional[int] = typer.Option(None, help="CPU threads."),
    out: Optional[Path] = typer.Option(None, help="Model folder (default <data_dir>/models/esco-occupations/latest)."),
) -> None:
    """Index ESCO's occupations, fit the ranker and the core/fringe classifier on training
    occupations, report dev and test figures, save."""
    from common.occupations.config import OccupationConfig
    from common.occupations.model import latest_model_dir
    from common.occupations.training import build_occupation_model

    with user_errors():
        cfg = OccupationConfig.from_yaml(config, threads=threads) if config else OccupationConfig(threads=threads)
        target = out or latest_model_dir()
        model = build_occupation_model(cfg, out_dir=target, progress=True)
    _figures(model.metrics)
    console.print(f"occupation model saved to {target} ({len(model.ranker.taxonomy)} occupations, "
                  f"{model.metrics.get('build_seconds', 0):.0f} s)")


def _figures(metrics: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Occupations of pseudo-postings of held-out occupations")
    for col in ("split", "title", "method", "R@1", "R@5", "MRR", "n"):
        table.add_column(col, justify="right")
    for key, m in metrics.items():
        if not key.startswith(("dev_", "test_")) or not isinstance(m, dict):
            continue
        split, titled = key.split("_", 1)
        for method, r in m.items():
            table.add_row(split, "yes" if titled == "title" else "no", method, f"{r['r_at_1']:.3f}",
                          f"{r['r_at_5']:.3f}", f"{r['mrr']:.3f}", str(r["n"]))
    Console().print(table)
    titles = metrics.get("titles")
    if titles:
        real = Table(title=f"Real job titles, title only: {titles['test']['model']['n']} held-back test titles "
                           "(95 % bootstrap intervals)")
        for col in ("method", "R@1", "R@5", "MRR"):
            real.add_column(col, justify="right")
        for method, r in titles["test"].items():
            real.add_row(method, *(f"{r[k]:.3f} [{r[k + '_ci'][0]:.3f}, {r[k + '_ci'][1]:.3f}]"
                                   for k in ("r_at_1", "r_at_5", "mrr")))
        Console().print(real)
        cal = Table(title="Confidence of the first occupation on the test titles (calibrated on calib titles)")
        for col in ("confidence", "titles", "mean confidence", "share right"):
            cal.add_column(col, justify="right")
        for row in titles["calibration_test"]:
            cal.add_row(row["bin"], str(row["n"]), f"{row['mean_confidence']:.3f}", f"{row['share_right']:.3f}")
        Console().print(cal)
    imp = (metrics.get("importance") or {}).get("test")
    if imp:
        console.print("core/fringe on test occupations: " + ", ".join(
            f"{k} F1 {v['f1_essential']:.3f} acc {v['accuracy']:.3f}" for k, v in imp.items() if isinstance(v, dict)))


def occupations_cmd(
    text: str = typer.Argument(..., help="Job posting text, or - to read standard input."),
    title: Optional[str] = typer.Option(None, help="The posting's title (default: its first line, when it reads as one)."),
    top_k: int = typer.Option(3, min=1, max=20, help="How many occupations to show."),
    model: Optional[Path] = typer.Option(None, help="Occupation model folder (default: champion, else latest)."),
    keyword_model: Optional[Path] = typer.Option(None, help="Tagger folder (default: champion, else latest)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The ESCO occupations a posting describes, and which of its skills are essential for the first."""
    from common.core.settings import get_settings
    from common.keywords.tagger import KeywordTagger, default_model_dir
    from common.registry import quality_of
    from jobskills.cli.keywords import _esco_links, load_default_linker

    body = read_text_arg(text)
    if not body.strip():
        raise fail("the text is empty", code=2)
    if title is not None and len(title) > 200:
        raise fail(f"the title has {len(title)} characters; the limit is 200", code=2)
    with user_errors():
        occ_model, occ_dir = load_occupation_model(model)
        tagger = KeywordTagger.load(keyword_model or default_model_dir())
        keywords = tagger.extract([body])[0]
        linker = load_default_linker()
        links = _esco_links(linker, [k.text for k in keywords]) if linker is not None else [None] * len(keywords)
        uris = occ_model.keyword_skills([k.text for k in keywords], [lk.uri if lk else None for lk in links])
        (result,) = occ_model.analyze([body], [[u for u in uris if u]], [title], top_k=top_k)
        s = get_settings()
        quality = quality_of(s.occupation_model_name, occ_dir, s.occupation_score_floor)
    kw_rows = [{"text": k.text, "esco_uri": u, "importance": result.importance.get(u) if u else None}
               for k, u in zip(keywords, uris, strict=True)]
    if as_json:
        typer.echo(json.dumps({"title": result.title, "occupations": [o.model_dump() for o in result.occupations],
                               "keywords": kw_rows}, indent=2))
        print_quality(quality)
        return
    typer.echo(f"title: {result.title or '(none found; ranked by skills alone)'}")
    for i, o in enumerate(result.occupations, 1):
        typer.echo(f"{i}. {o.label}  (ISCO {o.isco}, confidence {o.score:.2f})  {o.uri}")
        typer.echo(f"   essential: {', '.join(r.label for r in o.essential) or '-'}")
        typer.echo(f"   optional:  {', '.join(r.label for r in o.optional) or '-'}")
    for row in kw_rows:
        typer.echo(f"  {row['text']}: {row['importance'] or 'not linked'}")
    print_quality(quality)


def register(app: typer.Typer) -> None:
    """``jobskills occupations`` and ``jobskills esco build-occupations``."""
    app.command("occupations")(occupations_cmd)
