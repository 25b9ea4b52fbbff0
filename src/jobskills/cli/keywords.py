"""Keyword commands: ``train-keywords``, ``evaluate-keywords``, ``extract``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from jobskills.cli._util import console, fail, print_quality, read_text_arg, user_errors


def _metrics_table(title: str, report: dict) -> None:
    from rich.table import Table

    table = Table(title=title)
    for col in ("scope", "precision", "recall", "F1"):
        table.add_column(col, justify="right" if col != "scope" else "left")
    rows = [(f"span {k}", report["span"][k]) for k in ("overall", "Skill", "Knowledge")]
    rows += [(f"span {src}", r["span"]["overall"]) for src, r in report.get("by_source", {}).items()]
    rows += [("document keyword set", report["doc"])]
    for name, r in rows:
        table.add_row(name, f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}")
    from rich.console import Console

    Console().print(table)


def train_keywords(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TaggerConfig YAML (e.g. configs/tagger.yaml)."),
    variant: Optional[str] = typer.Option(None, help="frozen | finetune | crf (overrides the config)."),
    encoder: Optional[str] = typer.Option(None, help="Local Hugging Face model folder (default: MiniLM)."),
    epochs: Optional[float] = typer.Option(None, help="Training epochs."),
    max_steps: Optional[int] = typer.Option(None, help="Debug cap: stop after this many steps."),
    max_train_postings: Optional[int] = typer.Option(None, help="Debug cap on training postings."),
    max_eval_postings: Optional[int] = typer.Option(None, help="Debug cap on dev postings."),
    lr: Optional[float] = typer.Option(None, help="Encoder learning rate."),
    batch_size: Optional[int] = typer.Option(None, help="Windows per step."),
    seed: Optional[int] = typer.Option(None, help="Random seed."),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads (1 helps on a busy CPU)."),
    teacher: Optional[str] = typer.Option(None, help="Distil from this trained tagger folder (the accurate tier)."),
    out: Optional[Path] = typer.Option(
        None, help="Output folder (default <data_dir>/models/keyword-tagger/<variant>); rerun to resume."
    ),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the SkillSpan dev evaluation."),
) -> None:
    """Train the keyword tagger on SkillSpan train, evaluate on dev, save model and report."""
    from common.core.settings import get_settings
    from common.data.skillspan import load_skillspan
    from common.keywords.config import TaggerConfig
    from common.keywords.training import train_tagger

    with user_errors():
        overrides = dict(variant=variant, encoder=encoder, epochs=epochs, max_steps=max_steps,
                         max_train_postings=max_train_postings, max_eval_postings=max_eval_postings,
                         lr=lr, batch_size=batch_size, seed=seed, threads=threads, teacher=teacher)
        if config is not None:
            if not config.exists():
                raise fail(f"config file {config} does not exist", code=2)
            cfg = TaggerConfig.from_yaml(config, **overrides)
        else:
            cfg = TaggerConfig(**{k: v for k, v in overrides.items() if v is not None})
        settings = get_settings()
        out_dir = out or settings.models_dir / settings.keyword_model_name / cfg.variant
        train = load_skillspan("train")
        dev = None if no_eval else load_skillspan("dev")
        console.print(f"training {cfg.variant} tagger on {len(train)} postings -> {out_dir}")
        result = train_tagger(cfg, train, dev, out_dir, progress=True)
    from common.core.artifacts import publish_latest
    from common.keywords.tagger import latest_model_dir

    tier = json.loads((result.model_dir / "tagger.json").read_text(encoding="utf-8")).get("tier", "fast")
    publish_latest(result.model_dir, latest_model_dir(tier))
    console.print(f"{tier} tier: latest model {latest_model_dir(tier)}")
    console.print(f"saved {result.model_dir} in {result.seconds:.0f}s")
    if result.report is not None:
        _metrics_table(f"SkillSpan dev, {cfg.variant}", result.report)
        console.print(f"report: {result.model_dir / 'report.json'} and report.png")


def evaluate_keywords_cmd(
    model: Optional[Path] = typer.Option(None, help="Tagger folder (default: champion, else latest)."),
    split: str = typer.Option("dev", help="SkillSpan split to score (train or dev)."),
    max_postings: Optional[int] = typer.Option(None, help="Debug cap on postings."),
    out: Optional[Path] = typer.Option(None, help="Report folder (default <data_dir>/reports/keywords/<model>)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Score a trained tagger on SkillSpan (strict span P/R/F1 and document keyword sets)."""
    from common.keywords.evaluate import save_report
    from common.core.settings import get_settings
    from common.data.skillspan import load_skillspan
    from common.keywords.tagger import KeywordTagger, default_model_dir
    from common.keywords.evaluate import evaluate_tagger

    if split not in ("train", "dev"):
        raise fail(f"unknown split {split!r}: use train or dev", code=2)
    with user_errors():
        model_dir = model or default_model_dir()
        tagger = KeywordTagger.load(model_dir)
        postings = load_skillspan(split)[:max_postings] if max_postings else load_skillspan(split)
        with console.status(f"tagging {len(postings)} {split} postings"):
            report = evaluate_tagger(tagger, postings)
    report["model"] = {"model_dir": str(model_dir), "variant": tagger.variant, "split": split}
    out_dir = out or get_settings().reports_dir / "keywords" / Path(model_dir).resolve().name
    json_path, png_path = save_report(report, out_dir, name=f"eval-{split}")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _metrics_table(f"SkillSpan {split}, {Path(model_dir).name}", report)
    console.print(f"report: {json_path} and {png_path.name}")


def extract(
    text: str = typer.Argument(..., help="Job description text, or - to read standard input."),
    model: Optional[Path] = typer.Option(None, help="Tagger folder (default: champion, else latest)."),
    as_json: bool = typer.Option(False, "--json", help="Print keywords as JSON."),
    esco: bool = typer.Option(True, help="Link each keyword to its ESCO skill and list the posting's ESCO skills, "
                              "named or implied (needs a built linker)."),
    tier: str = typer.Option("auto", help="auto | accurate | fast: whose champion (else latest) answers; auto: "
                             "the accurate tier when it has a model, else the fast tier."),
) -> None:
    """Print the keywords (skills and knowledge) of a job description, with their ESCO skills."""
    from common.registry import quality_of
    from common.keywords.tagger import KeywordTagger, default_model_dir
    from common.keywords.tiers import tier_floor, tier_model_name
    from common.linking.skills import link_posting

    body = read_text_arg(text)
    if not body.strip():
        raise fail("the text is empty", code=2)
    if tier not in ("auto", "accurate", "fast"):
        raise fail(f"--tier must be auto, accurate or fast, not {tier!r}", code=2)
    with user_errors():
        model_dir = model or default_model_dir(tier)
        tagger = KeywordTagger.load(model_dir)
        keywords = tagger.extract([body])[0]
        quality = quality_of(tier_model_name(tagger.tier), model_dir, tier_floor(tagger.tier), tier=tagger.tier)
        linker = load_default_linker() if esco else None
        linked = link_posting(linker, body, keywords) if linker is not None else None  # links and skills, one pass
        links, skills = (linked.links, linked.skills) if linked is not None else (None, None)
    if as_json:  # /extract's shape: keywords with their links, the posting's skills
        typer.echo(json.dumps({"keywords": [{**k.model_dump(), "esco": (links[i].model_dump() if links and links[i] else None)}
                                            for i, k in enumerate(keywords)],
                               "skills": [s.model_dump() for s in skills] if skills is not None else None}, indent=2))
        print_quality(quality)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(keywords)} keywords")
    for col in ("type", "keyword", "chars", "score", *(("ESCO skill",) if links is not None else ())):
        table.add_column(col)
    for i, k in enumerate(keywords):
        extra = ((f"{links[i].label}  {links[i].uri}" if links[i] else "-"),) if links is not None else ()
        table.add_row(k.type, k.text, f"{k.start}-{k.end}", f"{k.score:.2f}", *extra)
    Console().print(table)
    if skills is not None:
        Console().print(_skills_table(skills))
    print_quality(quality)


def _skills_table(skills: list):  # noqa: ANN202 - rich Table; common.linking.skills.PostingSkill items
    """The posting's ESCO skills: named ones with their keywords, implied ones with their sentence."""
    from rich.table import Table

    table = Table(title=f"{len(skills)} ESCO skills (named by a keyword, or implied by a sentence)")
    for col in ("ESCO skill", "how", "evidence", "score"):
        table.add_column(col)
    for s in skills:
        evidence = " | ".join(dict.fromkeys(e.text if len(e.text) <= 80 else e.text[:77] + "..." for e in s.evidence))
        table.add_row(f"{s.label}  {s.uri}", "implied" if s.implied else "named", evidence, f"{s.score:.2f}")
    return table


def _esco_links(linker, texts: list[str]) -> list:  # noqa: ANN001 - common.linking.linker.ESCOLinker
    """The ESCO link of each keyword, each distinct phrase linked once by the rule ``/extract`` uses
    (``common.linking.phrases``)."""
    from common.linking.phrases import per_text, unique_phrases

    phrases = unique_phrases(texts)
    return per_text(texts, phrases, [r.linked for r in linker.link(phrases, top_k=1)] if phrases else [])


def load_default_linker(path: Path | None = None):  # noqa: ANN201 - common.linking.linker.ESCOLinker
    """The linker at ``path``, else the champion (else latest); None, with a line on stderr, when none was built."""
    from common.linking.linker import ESCOLinker, default_model_dir

    path = path or default_model_dir()
    if not (path / "linker.json").exists():
        console.print(f"no ESCO linker at {path}: ESCO links are left out (build one with 'jobskills esco build-linker')")
        return None
    return ESCOLinker.load(path)


def export_onnx(
    model: Path = typer.Option(..., help="Tagger folder to export (written next to its weights)."),
    check: bool = typer.Option(True, help="Score torch and every ONNX backend on SkillSpan dev afterwards; the "
                               "served backend's figures become the model's (tagger.json, report.json)."),
    max_postings: Optional[int] = typer.Option(None, help="Debug cap on dev postings for --check."),
) -> None:
    """Export a tagger's encoder to ONNX (fp32 and dynamic int8), then score torch and the backend that
    serves on CPU on dev (parity; `python benchmarks/inference.py` compares every backend)."""
    from common.data.skillspan import load_skillspan
    from common.keywords.evaluate import evaluate_tagger, flat_metrics, save_report
    from common.keywords.export import export_and_score
    from common.keywords.tagger import KeywordTagger
    from common.text.onnx_backend import export_encoder

    with user_errors():
        tagger = KeywordTagger.load(model, device="cpu", backend="torch")
        if not check:
            with console.status(f"exporting {model}"):
                paths = export_encoder(tagger.net.encoder, model)
            for backend, path in paths.items():
                console.print(f"{backend}: {path} ({path.stat().st_size / 1e6:.0f} MB)")
            return
        dev = load_skillspan("dev")
        dev = dev[:max_postings] if max_postings else dev
        with console.status(f"scoring torch on {len(dev)} dev postings"):
            report = evaluate_tagger(tagger, dev)
        metrics = {k: v for k, v in (tagger.meta.get("metrics") or {}).items() if k == "train_loss"}
        metrics.update(flat_metrics(report))
        with console.status(f"exporting {model} and scoring the served backend"):
            served = export_and_score(tagger, model, dev, report, metrics)
        if served is not None and max_postings is None:
            save_report({**served, "model": {"variant": tagger.variant, "model_dir": str(model)}}, model,
                        history=tagger.meta.get("history"))
        console.print(f"torch      dev span-F1 {report['span']['overall']['f1']:.4f}")
        if served is not None:
            console.print(f"{metrics['backend']:10s} dev span-F1 {served['span']['overall']['f1']:.4f} (serves on CPU)")
    scheme = model / "encoder-int8.json"
    if scheme.exists():
        console.print(f"int8 scheme: {json.loads(scheme.read_text())}")


def label_unlabeled(
    teacher: Path = typer.Option(..., help="The teacher tagger folder (the accurate tier's champion)."),
    source: Optional[Path] = typer.Option(None, help="Unlabelled JSONL ({id, source, text} a line); default: "
                                          "<shared_data_dir>/unlabeled/postings.jsonl."),
    out: Optional[Path] = typer.Option(None, help="Cache folder (default <data_dir>/cache/teacher-labels/<hash of the "
                                       "teacher's head weights>); rerun the same command to resume."),
    fraction: float = typer.Option(1.0, min=0.0, max=1.0, help="Label only the first FRACTION of the passages."),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads."),
    backend: Optional[str] = typer.Option(None, help="torch | onnx | onnx-int8 (default: the served backend)."),
) -> None:
    """Label unlabelled job text with a teacher tagger's per-word distributions, for distillation
    (`jobskills keywords train --unlabeled-cache DIR`). Resumable: shards already written are kept."""
    from common.core.settings import get_settings, use_threads
    from common.keywords.unlabeled import default_cache_dir
    from common.keywords.unlabeled import label_unlabeled as label

    with user_errors():
        if threads:
            import os

            os.environ["JOBSKILLS_THREADS"] = str(threads)  # torch and an ONNX teacher: the same thread budget
            get_settings.cache_clear()
            use_threads()
        settings = get_settings()
        if not (teacher / "tagger.json").is_file():
            raise fail(f"{teacher} is not a tagger folder (no tagger.json)", code=2)
        src = source or settings.unlabeled_postings
        out_dir = out or default_cache_dir(teacher)
        console.print(f"labelling {fraction:.0%} of the passages of {src} with {teacher} -> {out_dir}")
        label(teacher, src, out_dir, fraction=fraction, backend=backend, progress=True)
    console.print(f"teacher labels: {out_dir}")


def register(app: typer.Typer) -> None:
    """``jobskills keywords train|evaluate|extract|export-onnx`` (old top-level names: hidden aliases)."""
    from jobskills.cli._util import area

    area(app, "keywords", "Keywords of job postings: train and score the tagger, extract, export to ONNX.", {
        "train": (train_keywords, "train-keywords"),
        "evaluate": (evaluate_keywords_cmd, "evaluate-keywords"),
        "extract": (extract, "extract"),
        "export-onnx": (export_onnx, "export-onnx"),
        "label-unlabeled": (label_unlabeled, None),
    })
