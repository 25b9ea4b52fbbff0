"""Skill-group commands: ``train-groups``, ``evaluate-groups``, ``classify-skill``, ``match``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from jobskills.cli._util import console, fail, print_quality, read_phrases, user_errors


def _metrics_table(title: str, metrics: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("level", "pair P", "pair R", "pair F1 (= micro-F1)", "macro-F1", "candidate recall", "threshold"):
        table.add_column(col, justify="right")
    for key in sorted(k for k in metrics if k.startswith("l") and isinstance(metrics[k], dict)):
        m = metrics[key]
        if "pair_f1" not in m:
            continue
        table.add_row(key.upper(), f"{m['pair_precision']:.3f}", f"{m['pair_recall']:.3f}", f"{m['pair_f1']:.3f}",
                      f"{m['macro_f1']:.3f}", f"{m.get('candidate_recall', 1.0):.3f}", f"{m.get('threshold', float('nan')):.3f}")
    Console().print(table)


def _load_model(model: Optional[Path]):  # noqa: ANN202 - common.groups.model.GroupModel
    from common.groups.model import GroupModel, default_model_dir

    model_dir = model or default_model_dir()
    if not (Path(model_dir) / "group_model.joblib").exists():
        raise FileNotFoundError(
            f"no skill-group model at {model_dir}: train one with 'jobskills groups train' or pass --model"
        )
    return GroupModel.load(model_dir), model_dir


def train_groups_cmd(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="GroupConfig YAML (e.g. configs/groups.yaml)."),
    kind: Optional[str] = typer.Option(None, help="skillbert | ovr (overrides the config)."),
    encoder: Optional[str] = typer.Option(None, help="Local Hugging Face model folder (default: MiniLM)."),
    max_train_skills: Optional[int] = typer.Option(None, help="Debug cap on training skills."),
    threads: Optional[int] = typer.Option(None, help="CPU threads (1 helps on a busy CPU)."),
    out: Optional[Path] = typer.Option(None, help="Model folder (default <data_dir>/models/skill-groups/latest)."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the ESCO dev evaluation."),
) -> None:
    """Train the skill-group classifier on ESCO train, evaluate on dev, save the model folder."""
    import pandas as pd

    from common.groups.config import GroupConfig
    from common.groups.model import latest_model_dir
    from common.groups.training import train_groups

    with user_errors():
        if config is not None and not config.exists():
            raise fail(f"config file {config} does not exist", code=2)
        cfg = GroupConfig.from_yaml(config) if config else GroupConfig()
        overrides = {k: v for k, v in dict(kind=kind, encoder=encoder, max_train_skills=max_train_skills,
                                             threads=threads).items() if v is not None}
        cfg = GroupConfig.model_validate({**cfg.model_dump(), **overrides})
        out_dir = out or latest_model_dir().parent / cfg.name
        console.print(f"training {cfg.name} ({cfg.kind}) group model -> {out_dir}")
        dev = pd.DataFrame() if no_eval else None
        from common.data import esco

        train = esco.load_skills("train")
        dev = dev if dev is not None else esco.load_skills("dev")
        result = train_groups(cfg, train, dev, out_dir=out_dir, progress=True)
    console.print(f"saved {result.model_dir} in {result.seconds:.0f}s")
    if out is None:
        from common.core.artifacts import publish_latest

        console.print(f"published as {publish_latest(result.model_dir, latest_model_dir())}")
    if not no_eval:
        _metrics_table(f"ESCO dev, {cfg.name}", result.metrics)


def evaluate_groups_cmd(
    model: Optional[Path] = typer.Option(None, help="Model folder (default: champion, else latest)."),
    split: str = typer.Option("dev", help="ESCO split to score (train, dev or test)."),
    max_skills: Optional[int] = typer.Option(None, help="Debug cap on skills."),
    out: Optional[Path] = typer.Option(None, help="Report JSON path (default <data_dir>/reports/groups/eval-<split>.json)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Score a group model on an ESCO split: pair P/R/F1 (= micro-F1) and macro-F1 per level."""
    from common.data import esco
    from common.groups.evaluation import evaluate_groups
    from common.core.settings import get_settings

    if split not in ("train", "dev", "test"):
        raise fail(f"unknown split {split!r}: use train, dev or test", code=2)
    with user_errors():
        gm, model_dir = _load_model(model)
        df = esco.load_skills(split)
        if max_skills:
            df = df.head(max_skills)
        with console.status(f"classifying {len(df)} {split} skills"):
            report = evaluate_groups(gm, df)
    for level, st in gm.levels.items():
        report[f"l{level}"]["threshold"] = st.threshold
    report["model"] = {"model_dir": str(model_dir), "split": split, "name": gm.cfg.name}
    path = out or get_settings().reports_dir / "groups" / f"eval-{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _metrics_table(f"ESCO {split}, {gm.cfg.name}", report)
    console.print(f"report: {path}")


def classify_skill(
    skill: list[str] = typer.Argument(..., help="One or more skill phrases (- reads one per line from stdin)."),
    level: int = typer.Option(2, min=1, max=2, help="1: broad groups, 2: finer groups."),
    top_k: int = typer.Option(5, min=1, max=50, help="How many ranked groups to show."),
    model: Optional[Path] = typer.Option(None, help="Model folder (default: champion, else latest)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Ranked competency groups with probabilities for a skill phrase."""
    phrases = read_phrases(skill)
    from common.registry import quality_of
    from common.core.settings import get_settings

    with user_errors():
        gm, model_dir = _load_model(model)
        decisions = gm.decide(phrases, level=level, top_k=top_k)
        s = get_settings()
        quality = quality_of(s.group_model_name, Path(model_dir), s.group_score_floor)
    if as_json:
        typer.echo(json.dumps([{"skill": p, "groups": [g.model_dump() for g in d.groups],
                                "ranked": [g.model_dump() for g in d.ranked], "threshold": d.threshold,
                                "assigned": [g.code for g in d.groups]}
                               for p, d in zip(phrases, decisions, strict=True)], indent=2))
        print_quality(quality)
        return
    for p, d in zip(phrases, decisions, strict=True):
        assigned = {g.code for g in d.groups}
        typer.echo(p)
        for g in d.ranked:
            mark = "*" if g.code in assigned else " "
            typer.echo(f"  {mark} {g.score:.3f}  {g.code:<7} {g.label}")
        for g in d.groups:
            if g.code not in {r.code for r in d.ranked}:
                typer.echo(f"  * {g.score:.3f}  {g.code:<7} {g.label}  (assigned, below the top {top_k})")
    typer.echo(f"(* = assigned: probability >= threshold {decisions[0].threshold:.3f}, or the best group)")
    print_quality(quality)


def _read_skills(path: Path, extract: bool) -> list[str]:
    """A JSON list, or one skill per line; with ``extract`` the file is a posting/resume text."""
    if not path.exists():
        raise FileNotFoundError(f"file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if extract:
        from common.keywords.tagger import KeywordTagger, default_model_dir
        from common.linking.phrases import unique_phrases

        tagger = KeywordTagger.load(default_model_dir())
        return unique_phrases(k.text for k in tagger.extract([text])[0])  # as /match turns keywords into skills
    if path.suffix == ".json":
        data = json.loads(text)
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise ValueError(f"{path} must hold a JSON list of skill strings")
        return data
    return [line.strip(" -*\t") for line in text.splitlines() if line.strip(" -*\t")]


def match_cmd(
    resume: Path = typer.Option(..., "--resume", help="Resume skills: one per line, a JSON list, or text with --extract."),
    job: Path = typer.Option(..., "--job", help="Job skills: one per line, a JSON list, or text with --extract."),
    extract: bool = typer.Option(False, "--extract", help="Files are free text: extract keywords with the tagger first."),
    level: int = typer.Option(2, min=1, max=2, help="Group level to match on."),
    model: Optional[Path] = typer.Option(None, help="Group model folder (default: champion, else latest)."),
    linker: Optional[Path] = typer.Option(None, help="ESCO linker folder (default: champion, else latest)."),
    esco: bool = typer.Option(True, help="Also compare the linked ESCO skills (needs a built linker)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (the fields /match answers with)."),
) -> None:
    """How well a resume covers a job, compared in competency groups and linked ESCO skills."""
    from common.occupations.matching import match_with_occupation
    from jobskills.cli.keywords import load_default_linker
    from jobskills.cli.occupations import load_default_occupations

    with user_errors():
        resume_skills = _read_skills(resume, extract)
        job_skills = _read_skills(job, extract)
        if not job_skills:
            raise ValueError(f"no skills found in {job}")
        gm, _ = _load_model(model)
        result = match_with_occupation(resume_skills, job_skills, gm, load_default_linker(linker) if esco else None,
                                       load_default_occupations() if esco else None, level=level)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    occ = result.occupation
    if occ is not None and occ.occupation is not None:
        have = sum(r.on_resume for r in occ.essential)
        typer.echo(f"job's occupation: {occ.occupation.label} (ISCO {occ.occupation.isco}); the resume has {have} of its "
                   f"{len(occ.essential)} essential skills"
                   + (f" (missing: {', '.join(r.label for r in occ.essential if not r.on_resume)})" if have < len(occ.essential) else ""))
    if result.esco is not None:
        typer.echo(f"ESCO skills: {result.esco.score:.3f} of the job's linked skills are on the resume "
                   f"(missing: {', '.join(m.label for m in result.esco.missing) or 'none'})")
    typer.echo(f"match score: {result.score:.3f} (share of the job's level-{level} group weight the resume covers)")
    for g in result.groups:
        typer.echo(f"  + {g.contribution:.3f}  {g.code:<7} {g.label}: job {g.job_skills} ~ resume {g.resume_skills}")
    for g in result.missing:
        typer.echo(f"  - missing {g.code:<7} {g.label}: job {g.job_skills}")


def register(app: typer.Typer) -> None:
    """``jobskills groups train|evaluate|classify|match`` (old top-level names: hidden aliases)."""
    from jobskills.cli._util import area

    area(app, "groups", "Skill competency groups: train and score the classifier, classify a skill, match a "
         "resume to a job.", {
             "train": (train_groups_cmd, "train-groups"),
             "evaluate": (evaluate_groups_cmd, "evaluate-groups"),
             "classify": (classify_skill, "classify-skill"),
             "match": (match_cmd, "match"),
         })
