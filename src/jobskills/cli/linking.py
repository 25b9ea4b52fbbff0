"""ESCO commands: ``build-linker``, ``link`` (and ``build-occupations`` from ``cli.occupations``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from jobskills.cli._util import console, fail, print_quality, read_phrases, user_errors


def _metrics_table(metrics: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ESCO linking on the validation files")
    for col in ("file", "linkable", "R@1", "R@5", "MRR@10", "linked right", "not-present left unlinked", "threshold"):
        table.add_column(col, justify="right")
    for name in ("tech", "house"):
        m = metrics.get(name)
        if m:
            table.add_row(name, str(m["linkable"]), f"{m['r_at_1']:.3f}", f"{m['r_at_5']:.3f}", f"{m['mrr_at_10']:.3f}",
                          f"{m['linked_correct']:.3f}", f"{m['unlinked_not_present']:.3f}", f"{m['threshold']:.3f}")
    Console().print(table)


def load_linker(model: Optional[Path]) -> tuple[Any, Path]:
    from common.linking.linker import ESCOLinker, default_model_dir

    model_dir = Path(model or default_model_dir())
    if not (model_dir / "linker.json").exists():
        raise FileNotFoundError(f"no ESCO linker at {model_dir}: build one with 'jobskills esco build-linker' or pass --model")
    return ESCOLinker.load(model_dir), model_dir


def build_linker_cmd(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="LinkerConfig YAML (e.g. configs/linker.yaml)."),
    encoder: Optional[str] = typer.Option(None, help="Local Hugging Face encoder folder (default: MiniLM)."),
    no_adapt: bool = typer.Option(False, "--no-adapt", help="Skip the encoder's adaptation on ESCO's synonyms."),
    no_retriever: bool = typer.Option(False, "--no-retriever", help="Skip training the sentence retriever "
                                      "(sentences then use plain MiniLM similarity; about 8 minutes less on 2 cores)."),
    tagger: Optional[Path] = typer.Option(None, help="Keyword model that finds keywords in the unlabelled duty "
                                          "sentences the retriever learns from (default: the fast tier's, else the accurate tier's)."),
    threads: Optional[int] = typer.Option(None, help="CPU threads."),
    out: Optional[Path] = typer.Option(None, help="Linker folder (default <data_dir>/models/esco-linker/latest)."),
) -> None:
    """Index ESCO's skills for linking, tune abstention on the validation files, train the sentence
    retriever, save the linker."""
    from common.linking.linker import LinkerConfig, build_linker, latest_model_dir

    with user_errors():
        if config is not None and not config.exists():
            raise fail(f"config file {config} does not exist", code=2)
        cfg = LinkerConfig.from_yaml(config) if config else LinkerConfig()
        overrides: dict[str, Any] = {k: v for k, v in dict(encoder=encoder, threads=threads).items() if v is not None}
        if no_adapt:
            overrides["adapt"] = None
        if no_retriever:
            overrides["retriever"] = None
        elif tagger is not None:
            from common.keywords.tagger import TAGGER_FILE

            if not (tagger / TAGGER_FILE).exists():
                raise fail(f"{tagger} is not a keyword model folder (no {TAGGER_FILE})", code=2)
            overrides["retriever"] = {**(cfg.retriever.model_dump() if cfg.retriever else {}), "tagger": str(tagger)}
        cfg = LinkerConfig.model_validate({**cfg.model_dump(), **overrides})
        target = out or latest_model_dir()
        linker = build_linker(cfg, out_dir=target, progress=True)
    _metrics_table(linker.metrics)
    r = linker.metrics.get("retriever")
    if r:
        console.print(f"sentence retriever: {r['pairs']} distant pairs ({r['skillspan_pairs']} from SkillSpan train, "
                      f"{r.get('duty_pairs', 0)} from {r.get('duty_sentences', 0)} duty sentences), {r['steps']} steps "
                      f"in {r['train_seconds']:.0f} s")
    console.print(f"linker saved to {target} ({len(linker.taxonomy)} skills, threshold {linker.threshold:.3f}, "
                  f"{linker.metrics.get('build_seconds', 0):.0f} s)")


def link_cmd(
    skill: list[str] = typer.Argument(..., help="One or more skill phrases (- reads one per line from stdin)."),
    context: Optional[str] = typer.Option(None, help="The sentence the phrases come from (improves the ranking)."),
    top_k: int = typer.Option(5, min=1, max=20, help="How many candidate ESCO skills to show."),
    model: Optional[Path] = typer.Option(None, help="Linker folder (default: champion, else latest)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The ESCO skill a phrase names (or none, when the best match is too weak), with candidates."""
    phrases = read_phrases(skill)
    from common.core.settings import get_settings
    from common.registry import quality_of

    with user_errors():
        linker, model_dir = load_linker(model)
        results = linker.link(phrases, [context] * len(phrases) if context else None, top_k=top_k)
        s = get_settings()
        quality = quality_of(s.linker_model_name, model_dir, s.linker_score_floor)
    if as_json:
        typer.echo(json.dumps({"results": [r.model_dump() for r in results], "taxonomy": linker.taxonomy.version},
                              indent=2))
        print_quality(quality)
        return
    for r in results:
        head = f"-> {r.linked.label}  {r.linked.uri}  ({r.linked.score:.3f})" if r.linked else \
            f"-> not linked (best {r.matches[0].score:.3f} < threshold {linker.threshold:.3f})"
        typer.echo(f"{r.skill}  {head}")
        for m in r.matches:
            mark = "*" if r.linked and m.uri == r.linked.uri else " "
            typer.echo(f"  {mark} {m.score:.3f}  {m.label}  {m.uri}")
    print_quality(quality)


def register(app: typer.Typer) -> None:
    """``jobskills esco build-linker|link|build-occupations`` (old top-level names: hidden aliases)."""
    from jobskills.cli._util import area

    from jobskills.cli.occupations import build_occupations_cmd

    area(app, "esco", "ESCO skills and occupations: build the linker and the occupation model, link a phrase.", {
        "build-linker": (build_linker_cmd, "build-linker"),
        "link": (link_cmd, "link"),
        "build-occupations": (build_occupations_cmd, None),
    })
