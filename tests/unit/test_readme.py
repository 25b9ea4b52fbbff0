"""What the README promises a newcomer, checked statically: its install and test commands are the
ones CI runs, and every ``jobskills`` command quoted in it (and in docs/) exists with the options
it is quoted with. The quickstart itself runs in tests/flows/test_quickstart_readme.py."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.main import get_command

from jobskills.cli.main import app

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:] if end < 0 else README[start:end]


def _blocks(text: str) -> list[str]:
    """Command lines of the fenced shell blocks (continuations joined, comments dropped)."""
    lines = []
    for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _words(cmd: str) -> list[str]:
    lex = shlex.shlex(cmd.replace("$(", " ").replace(")", " "), posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    try:
        return list(lex)
    except ValueError:  # an inline snippet with a stray quote or backslash: plain words
        return cmd.split()


def _jobskills_invocations(text: str) -> list[list[str]]:
    """Every ``jobskills ...`` in fenced blocks and inline code spans, as argument lists."""
    found = []
    for cand in _blocks(text) + re.findall(r"`(jobskills [^`]+)`", text):
        segment: list[str] = []
        for w in [*_words(cand), ";"]:
            if re.fullmatch(r"[;&|<>()]+", w):
                if segment and segment[0] == "jobskills":
                    found.append(segment[1:])
                segment = []
            elif not segment and re.fullmatch(r"[A-Z_]+=\S*", w):
                continue  # leading VAR=value assignments
            else:
                segment.append(w)
    return found


def _is_group(cmd: object) -> bool:
    return hasattr(cmd, "commands")  # typer may ship its own click: no isinstance on click.Group


def _resolve(words: list[str]) -> tuple[object, list[str]]:
    """The (click) command a word list names, and the words left after its name."""
    cmd = get_command(app)
    rest = list(words)
    while rest and _is_group(cmd) and not rest[0].startswith("-"):
        sub = cmd.commands.get(rest[0])
        if sub is None:
            raise AssertionError(f"`jobskills {' '.join(words)}`: no command {rest[0]!r} under {cmd.name!r}")
        cmd, rest = sub, rest[1:]
    return cmd, rest


def _documents() -> dict[str, str]:
    docs = {"README.md": README}
    docs.update({f"docs/{p.name}": p.read_text(encoding="utf-8") for p in sorted((REPO / "docs").glob("*.md"))})
    return docs


def test_ci_runs_exactly_the_readme_install_and_test_commands():
    install, test = _blocks(_section("Install")), _blocks(_section("Test"))
    assert len(install) == 1 and len(test) == 1, (install, test)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install[0] in ci and test[0] in ci
    assert ci.index(install[0]) < ci.index(test[0])
    assert install[0].count("pip install torch==2.13.0") == 1  # torch first: the local CPU build


def test_readme_runs_the_main_job_on_the_built_in_defaults():
    cmds = _blocks(_section("Run it end to end"))
    assert cmds and cmds[0] == "jobskills quickstart", cmds


@pytest.mark.parametrize("doc", sorted(_documents()))
def test_every_quoted_jobskills_command_exists(doc):
    text = _documents()[doc]
    invocations = _jobskills_invocations(text)
    if doc == "README.md":
        assert len(invocations) >= 15, invocations
    for words in invocations:
        cmd, rest = _resolve(words)
        if not _is_group(cmd):
            opts = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
            for w in rest:
                if w.startswith("--"):
                    assert w.split("=", 1)[0] in opts, f"{doc}: `jobskills {' '.join(words)}`: no option {w}"
