"""`ontoc compile --check [--diff]`: exit 0 when the output folder is current, 1 when stale, 2 on errors."""

from __future__ import annotations

import shutil

from .conftest import ROOT


def _package(tmp_path):
    src = tmp_path / "meeting_room"
    shutil.copytree(ROOT / "definitions" / "meeting_room", src)
    return src


def test_current_output_exits_0(tmp_path, run):
    src, out = _package(tmp_path), tmp_path / "out"
    assert run("compile", src, "-o", out).code == 0
    result = run("compile", src, "-o", out, "--check")
    assert result.code == 0, result.err
    assert "up to date (1 views)" in result.out


def test_check_writes_nothing(tmp_path, run):
    src, out = _package(tmp_path), tmp_path / "out"
    result = run("compile", src, "-o", out, "--check")
    assert result.code == 1
    assert not out.exists()
    assert f"stale: {out / 'meeting_sessions.sql'}" in result.out
    assert f"stale: {out / 'manifest.json'}" in result.out


def test_edited_file_is_stale_and_diffed(tmp_path, run):
    src, out = _package(tmp_path), tmp_path / "out"
    run("compile", src, "-o", out)
    sql = out / "meeting_sessions.sql"
    sql.write_text(sql.read_text().replace("'in-session'", "'running'"))
    result = run("compile", src, "-o", out, "--check")
    assert result.code == 1
    assert result.out.splitlines() == [f"stale: {sql}"]
    assert "1 file(s) differ" in result.err
    diffed = run("compile", src, "-o", out, "--check", "--diff")
    assert diffed.code == 1
    assert f"--- {sql}\n+++ {sql} (compiled)" in diffed.out
    assert "-  `meeting`.`status` = 'running' AS `in_session`," in diffed.out
    assert "+  `meeting`.`status` = 'in-session' AS `in_session`," in diffed.out


def test_changed_definitions_make_output_stale(tmp_path, run):
    src, out = _package(tmp_path), tmp_path / "out"
    run("compile", src, "-o", out)
    views = src / "views.py"
    views.write_text(views.read_text().replace('== "in-session"', '== "in_session"'))
    result = run("compile", src, "-o", out, "--check")
    assert result.code == 1
    assert sorted(result.out.splitlines()) == [
        f"stale: {out / 'manifest.json'}",
        f"stale: {out / 'meeting_sessions.sql'}",
    ]


def test_extra_sql_file_is_stale(tmp_path, run):
    src, out = _package(tmp_path), tmp_path / "out"
    run("compile", src, "-o", out)
    (out / "old_view.sql").write_text("-- a view that no longer exists\n")
    result = run("compile", src, "-o", out, "--check")
    assert result.code == 1
    assert result.out.splitlines() == [f"stale: {out / 'old_view.sql'}"]


def test_compile_error_exits_2_with_diagnostics(tmp_path, run):
    src, out = _package(tmp_path), tmp_path / "out"
    views = src / "views.py"
    views.write_text(
        views.read_text().replace(
            'return self.store.meeting.status == "in-session"', 'return self.store.meeting.nope == "in-session"'
        )
    )
    result = run("compile", src, "-o", out, "--check", "--format", "json")
    assert result.code == 2
    [d] = result.diagnostics()
    assert d["code"] == "unknown-field" and d["file"].endswith("views.py") and d["line"] == 20


def test_the_projects_own_generated_folder_is_current(run, monkeypatch):
    """What the project's CI (and the README's recipe) runs."""
    monkeypatch.chdir(ROOT)
    result = run("compile", "definitions", "-o", "generated", "--check")
    assert result.code == 0, result.out + result.err
