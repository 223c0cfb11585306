"""The repository holds the project, never a developer's environment."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not shutil.which("git") or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_no_virtualenv_is_tracked():
    # A tracked `.venv` (e.g. a worktree's symlink to a shared venv, which `.venv/` in
    # .gitignore does not match) replaces the real venv of every checkout it lands in.
    tracked = subprocess.run(
        ["git", "ls-files", "--", ".venv", "venv"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == [], f"untrack it with `git rm --cached {' '.join(tracked)}` before merging"
