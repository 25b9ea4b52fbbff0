"""Topic commands: ``jobskills topics fit|show|describe|insights``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from jobskills.cli._util import console, fail, read_text_arg, user_errors

topics_app = typer.Typer(name="topics", help="Topics over postings: fit, show, describe a posting, resume insights.",
                         no_args_is_help=True)

SOURCES = ("store", "skillspan", "benchmark")


def _load_texts(source: str, statuses: list[str]) -> tuple[list[str], list[str]]:
    """Texts and ids from the store, SkillSpan train+dev, the benchmark collection, or a file."""
    if source == "store":
        from common.data.storage import Store

        with Store.open() as store:
            df = store.postings(status=statuses)
        df = df[df["text"].fillna("").str.strip() != ""]
        return df["text"].tolist(), df["posting_id"].astype(str).tolist()
    if source == "skillspan":
        from common.topics.corpus import skillspan_texts

        return skillspan_texts()
    if source == "benchmark":
        from common.topics.corpus import benchmark_collection

        return benchmark_collection()
    from common.topics.corpus import read_text_file

    return read_text_file(source)


@topics_app.command("fit")
def fit_cmd(
    source: str = typer.Option("store", "--from", help="store | skillspan | benchmark (SkillSpan + ESCO) | a .jsonl/.txt file."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with a `topics:` section (configs/topics.yaml)."),
    status: list[str] = typer.Option(["valid"], help="Posting statuses read from the store."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default <models_dir>/topics/<UTC stamp>)."),
    no_publish: bool = typer.Option(False, "--no-publish", help="Do not replace <models_dir>/topics/latest."),
) -> None:
    """Fit BERT topics (paragraph embeddings, UMAP, HDBSCAN, c-TF-IDF); save the model and its topic map."""
    from common.topics.config import TopicConfig
    from common.topics.model import fit_topics

    with user_errors():
        if config is not None and not config.exists():
            raise fail(f"config file {config} does not exist", code=2)
        cfg = TopicConfig.from_yaml(config) if config else TopicConfig()
        texts, ids = _load_texts(source, status)
        if len(texts) < 2:
            raise fail(f"need at least two postings to find topics; {source!r} has {len(texts)}", code=2)
        console.print(f"fitting topics on {len(texts)} documents from {source}")
        with console.status("embedding paragraphs, reducing, clustering ..."):
            model, run_dir = fit_topics(texts, cfg, doc_ids=ids, out_dir=out, make_latest=not no_publish)
    _print_topics(model)
    console.print(f"saved {run_dir} (topic map: {run_dir / 'topic_map.png'})"
                  + ("" if no_publish else "; published as latest"))


def _print_topics(model) -> None:  # noqa: ANN001 - TopicModel, imported lazily
    from rich.console import Console
    from rich.table import Table

    info = model.info
    table = Table(title=f"{len(model.topics)} topics, {info.get('n_docs', '?')} documents, "
                        f"{info.get('n_paragraphs', '?')} paragraphs, noise {info.get('noise_share', 0):.0%}")
    for col in ("id", "paragraphs", "documents", "top words"):
        table.add_column(col, justify="left" if col == "top words" else "right")
    for t in model.topic_info():
        table.add_row(str(t["id"]), str(t["size"]), str(t["n_docs"]), ", ".join(t["words"]))
    Console().print(table)


@topics_app.command("show")
def show_cmd(
    model_dir: Optional[Path] = typer.Option(None, "--model", help="Topic model folder (default: latest)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show the topics of a fitted model (default: the latest)."""
    from common.topics.model import load_topic_model

    with user_errors():
        model = load_topic_model(model_dir)
    if as_json:
        typer.echo(json.dumps({"info": model.info, "topics": model.topic_info()}, indent=2))
    else:
        _print_topics(model)


@topics_app.command("describe")
def describe_cmd(
    text: str = typer.Argument(..., help="Posting text, or - to read standard input."),
    model_dir: Optional[Path] = typer.Option(None, "--model", help="Topic model folder (default: latest)."),
) -> None:
    """A posting's nearest topics, tags and extractive summary, as JSON."""
    from common.topics.model import load_topic_model

    text = read_text_arg(text)
    if not text.strip():
        raise fail("the posting text is empty", code=2)
    with user_errors():
        model = load_topic_model(model_dir)
        typer.echo(json.dumps(model.describe([text])[0], indent=2))


def _optional(loader, path: Optional[Path], registry_name: str):  # noqa: ANN001, ANN202
    """Load a model from ``path``, else the registry champion, else None (insights say what is missing)."""
    if path is not None:
        return loader(path)
    try:
        from common.registry import champion_path

        return loader(champion_path(registry_name))
    except Exception:  # noqa: BLE001 - no champion yet / registry unavailable: the insight goes without it
        return None


@topics_app.command("insights")
def insights_cmd(
    text: str = typer.Argument(..., help="Resume text, or - to read standard input."),
    tagger_dir: Optional[Path] = typer.Option(None, "--tagger", help="Keyword tagger folder (default: champion)."),
    groups_dir: Optional[Path] = typer.Option(None, "--groups", help="Group model folder (default: champion)."),
    model_dir: Optional[Path] = typer.Option(None, "--model", help="Topic model folder (default: latest)."),
) -> None:
    """Resume insights: keywords, their competency groups, nearest topics, summary (JSON)."""
    from common.topics.insights import resume_insights
    from common.core.settings import get_settings
    from common.topics.model import default_model_path, load_topic_model

    text = read_text_arg(text)
    if not text.strip():
        raise fail("the resume text is empty", code=2)
    s = get_settings()
    with user_errors():
        from common.keywords.tagger import KeywordTagger

        tagger = _optional(KeywordTagger.load, tagger_dir, s.keyword_model_name)
        from common.groups.model import GroupModel

        groups = _optional(GroupModel.load, groups_dir, s.group_model_name)
        mpath = model_dir or default_model_path()
        topics = load_topic_model(mpath) if (Path(mpath) / "topic_model.json").exists() else None
        typer.echo(json.dumps(resume_insights(text, tagger, groups, topics), indent=2))


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    app.add_typer(topics_app, name="topics")
