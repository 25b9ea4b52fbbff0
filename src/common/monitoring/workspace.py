"""The Evidently workspace folder that ``evidently ui`` (``jobskills dashboard``) shows.

One project holds every drift check as a snapshot (timestamped, tagged ``drift``/``no-drift``)
and a dashboard whose panels plot the checks' metrics over time. Panels are created once, when
the project is created, so a user's own edits in the UI survive later checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DESCRIPTION = (
    "Drift of served job postings against the SkillSpan training reference: text descriptors, "
    "prediction drift and encoder-embedding drift. Written by `jobskills monitor`."
)

#: (tab, title, description, kind, [(metric, labels, legend)], size) of every dashboard panel.
PANELS: list[tuple[str, str, str, str, list[tuple[str, dict[str, str], str]], str]] = [
    ("Drift", "Postings in the last window", "Rows in the most recent check.", "counter",
     [("RowCount", {}, "postings")], "half"),
    ("Drift", "Share of drifted features (last check)",
     ("Descriptor and prediction features whose test failed (embeddings are plotted apart; the "
      "retrain decision counts them as one more feature)."),
     "counter", [("DriftedColumnsCount", {"value_type": "share"}, "share")], "half"),
    ("Drift", "Share of drifted features over time", "Same share, per check.", "line",
     [("DriftedColumnsCount", {"value_type": "share"}, "share drifted")], "half"),
    ("Drift", "Embedding drift (encoder embeddings)",
     "Domain-classifier ROC AUC reference vs window: 0.5 = indistinguishable, 1 = fully separable.",
     "line", [("EmbeddingsDrift", {"embeddings_name": "text_embedding"}, "ROC AUC")], "half"),
    ("Drift", "Text descriptor drift (KS p-value; below 0.05 = drift)", "Per check.", "line",
     [("ValueDrift", {"column": c}, c) for c in ("length_words", "oov_rate", "unknown_skill_share")], "half"),
    ("Drift", "Prediction drift (p-value / distance)", "Keywords per posting, confidence, dominant group.",
     "line", [("ValueDrift", {"column": c}, c) for c in ("keywords_per_posting", "mean_confidence", "top_group")],
     "half"),
    ("Descriptors", "Out-of-vocabulary rate and unknown-skill share (means)",
     "Share of words not in the training vocabulary; share of predicted keywords never labelled in training.",
     "line", [("MeanValue", {"column": c}, c) for c in ("oov_rate", "unknown_skill_share")], "half"),
    ("Descriptors", "Keywords per posting (mean)", "What the tagger returns per posting.", "line",
     [("MeanValue", {"column": "keywords_per_posting"}, "keywords")], "half"),
    ("Descriptors", "Mean keyword confidence", "The tagger's mean keyword score per posting.", "line",
     [("MeanValue", {"column": "mean_confidence"}, "confidence")], "half"),
    ("Descriptors", "Posting length in words (mean)", "", "line",
     [("MeanValue", {"column": "length_words"}, "words")], "half"),
]



def _panel(title: str, description: str, kind: str, values: list[tuple[str, dict[str, str], str]], size: str) -> Any:
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import counter_panel, line_plot_panel

    metrics = [PanelMetric(metric=m, metric_labels=labels, legend=legend) for m, labels, legend in values]
    if kind == "counter":
        return counter_panel(title=title, values=metrics, description=description or None, size=size,
                             aggregation="last")
    return line_plot_panel(title=title, values=metrics, description=description or None, size=size)


def open_workspace(path: str | Path) -> Any:
    """The local Evidently workspace at ``path`` (created when missing)."""
    from evidently.ui.workspace import Workspace

    Path(path).mkdir(parents=True, exist_ok=True)
    return Workspace(str(path))


def get_or_create_project(workspace: Any, name: str) -> Any:
    """The project called ``name``; a new one gets the dashboard panels in ``PANELS``."""
    found = workspace.search_project(name)
    if found:
        return found[0]
    project = workspace.create_project(name, description=DESCRIPTION)
    workspace.save_dashboard(project.id, dashboard_model())
    return project


def dashboard_model() -> Any:
    """The dashboard (tabs and panels) as one model.

    Built directly rather than with ``project.dashboard.add_panel``: in Evidently 0.7.23 that
    call lists a panel twice when its tab already exists, so the UI drew every panel twice.
    """
    from evidently.sdk.models import DashboardModel, DashboardTabModel

    tabs: dict[str, Any] = {}
    panels = []
    for tab, title, description, kind, values, size in PANELS:
        panel = _panel(title, description, kind, values, size)
        panels.append(panel)
        tabs.setdefault(tab, DashboardTabModel(title=tab, panels=[])).panels.append(panel.id)
    return DashboardModel(tabs=list(tabs.values()), panels=panels)


def add_snapshot(workspace_dir: str | Path, project_name: str, snapshot: Any, name: str | None = None) -> tuple[str, str]:
    """Store ``snapshot`` in the project; returns ``(project_id, snapshot_id)``."""
    ws = open_workspace(workspace_dir)
    project = get_or_create_project(ws, project_name)
    ref = ws.add_run(project.id, snapshot, include_data=False, name=name)
    return str(project.id), str(ref.id)


def list_snapshots(workspace_dir: str | Path, project_name: str) -> list[str]:
    """Snapshot ids stored for the project (empty when the project does not exist)."""
    ws = open_workspace(workspace_dir)
    found = ws.search_project(project_name)
    return [str(s) for s in ws.list_runs(found[0].id)] if found else []


def dashboard_panels(workspace_dir: str | Path, project_name: str) -> list[str]:
    """Titles of the project's dashboard panels (what `evidently ui` shows)."""
    ws = open_workspace(workspace_dir)
    found = ws.search_project(project_name)
    if not found:
        return []
    return [p.title for p in ws.get_dashboard(found[0].id).panels]
