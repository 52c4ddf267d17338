"""Every registered subcommand answers --help, and `hqmed --help` lists them all."""

import pytest

from hqmed import cli


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out, f"`hqmed --help` does not list {name!r}"


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_each_command_has_help(name, capsys):
    assert hasattr(cli.COMMANDS[name], "run")
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    assert exc.value.code == 0
    assert f"usage: hqmed {name}" in capsys.readouterr().out


def test_errors_are_one_line_without_debug(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert cli.main(["train", str(missing)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("hqmed: error:") and "nope.yaml" in err[0]
    assert "Traceback" not in "\n".join(err)


def _run_raising(monkeypatch, exc: BaseException) -> None:
    """Make ``hqmed models`` raise ``exc`` from inside the command."""
    import hqmed.commands.models as models_cmd

    def boom(args):
        raise exc
    monkeypatch.setattr(models_cmd, "run", boom)


def test_an_os_error_on_a_user_path_is_one_line(monkeypatch, capsys):
    _run_raising(monkeypatch, PermissionError(13, "Permission denied", "/data/scans/x.dcm"))
    assert cli.main(["models"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "hqmed: error: PermissionError: Permission denied: /data/scans/x.dcm"
    assert "Traceback" not in "\n".join(err)


def test_a_bug_prints_the_traceback_and_asks_for_a_report(monkeypatch, capsys):
    _run_raising(monkeypatch, ZeroDivisionError("division by zero"))
    assert cli.main(["models"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ZeroDivisionError: division by zero" in err
    assert "bug in hqmed" in err and "report it" in err and "hqmed: error:" not in err


def test_debug_shows_the_traceback_of_a_user_error(monkeypatch):
    from hqmed.errors import ConfigError

    _run_raising(monkeypatch, ConfigError("x: expected 1; got 2"))
    with pytest.raises(ConfigError):
        cli.main(["models", "--debug"])
