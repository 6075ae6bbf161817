from __future__ import annotations

import pytest

from migrate.config import DEFAULT_MAX_FILE_SIZE, Config, load_config
from migrate.errors import ConfigError
from migrate.model import Entry, SecretValue


def entry(name: str, path: str = "deploy/ecs/payments.json", location: str = "environment") -> Entry:
    return Entry(path=path, line=1, unit="app", location=location, name=name, value=SecretValue("v"))


def test_defaults_when_nothing_found(tmp_path):
    (tmp_path / ".git").mkdir()
    cfg = load_config(tmp_path)
    assert cfg == Config() and cfg.max_file_size == DEFAULT_MAX_FILE_SIZE


def test_pyproject_table_and_rules(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('''
[tool.secrets-migrate]
exclude = ["legacy/*"]
max-file-size = "1MiB"

[[tool.secrets-migrate.ignore]]
name = "FEATURE_*_TOKEN"
path = "payments.json"
reason = "rate limiter"

[[tool.secrets-migrate.force]]
regex = "^LEGACY_(AUTH|SIG)_.*$"
location = "environment"
''')
    sub = tmp_path / "deploy" / "ecs"
    sub.mkdir(parents=True)
    cfg = load_config(sub)
    assert cfg.max_file_size == 1024 * 1024 and cfg.exclude == ("legacy/*",)
    assert cfg.source == tmp_path / "pyproject.toml"
    assert cfg.match(entry("FEATURE_X_TOKEN")).action == "ignore"
    assert cfg.match(entry("FEATURE_X_TOKEN", path="other.json")) is None
    assert cfg.match(entry("LEGACY_AUTH_KEY")).action == "force"
    assert cfg.match(entry("LEGACY_AUTH_KEY", location="env_file")) is None
    assert cfg.is_excluded("legacy/a.json") and not cfg.is_excluded("deploy/a.json")


def test_dotfile_wins_and_search_stops_at_git(tmp_path):
    (tmp_path / ".secrets-migrate.toml").write_text("max-file-size = 10\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert load_config(repo).max_file_size == DEFAULT_MAX_FILE_SIZE  # above .git: not read
    (repo / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    (repo / ".secrets-migrate.toml").write_text("max-file-size = 2048\n")
    assert load_config(repo).max_file_size == 2048


def test_explicit_file(tmp_path):
    f = tmp_path / "cfg.toml"
    f.write_text('[[ignore]]\nname = "X"\n')
    assert load_config(tmp_path / "nowhere", f).ignore[0].name == "X"
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path, tmp_path / "missing.toml")


@pytest.mark.parametrize(("text", "key"), [
    ("bogus = 1\n", "bogus"),
    ("max-file-size = -1\n", "max-file-size"),
    ('max-file-size = "lots"\n', "max-file-size"),
    ('exclude = "x"\n', "exclude"),
    ('[[ignore]]\nreason = "no name"\n', "ignore[0]"),
    ('[[force]]\nname = "A"\nregex = "B"\n', "force[0]"),
    ('[[force]]\nregex = "("\n', "force[0].regex"),
    ('[[force]]\nname = "A"\ncolour = "red"\n', "force[0].colour"),
    ("[ignore\n", "invalid TOML"),
])
def test_bad_config_names_file_and_key(tmp_path, text, key):
    f = tmp_path / ".secrets-migrate.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(f) in str(info.value) and key in str(info.value)
