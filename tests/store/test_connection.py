"""The store's connection: URLs from settings, SQLite's WAL and write lock, transactions that
commit or roll back, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dtsen.config import load_settings
from dtsen.store.connection import Store, StoreError, is_writing, resolve_url
from dtsen.store.settings import StoreSettings
from dtsen.store.tables import audit_head


def test_a_relative_sqlite_path_lies_under_the_project(tmp_path: Path) -> None:
    url = resolve_url(StoreSettings(), tmp_path)
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(tmp_path / "store" / "dtsen.sqlite3")
    absolute = resolve_url(StoreSettings(url=f"sqlite:///{tmp_path}/elsewhere.db"), Path("/nowhere"))
    assert absolute.database == f"{tmp_path}/elsewhere.db"


def test_postgresql_urls_pass_through_and_hide_their_password() -> None:
    url = resolve_url(StoreSettings(url="postgresql+psycopg://dtsen:rahasia@db.example:5432/dtsen"), Path("/x"))
    assert url.get_backend_name() == "postgresql" and url.port == 5432
    assert "rahasia" not in url.render_as_string(hide_password=True)


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite://", "must name a SQLite file"),
    ("sqlite:///:memory:", "must name a SQLite file"),
    ("mysql://u@h/db", "sqlite or postgresql"),
    ("not a url at all", "not a database URL"),
])
def test_unusable_urls_are_refused_with_what_to_use(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        resolve_url(StoreSettings(url=url), Path("/x"))


def test_the_environment_overrides_the_project_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dtsen.toml").write_text('[store]\nurl = "sqlite:///a.sqlite3"\n', encoding="utf-8")
    assert load_settings(tmp_path).store.url == "sqlite:///a.sqlite3"
    monkeypatch.setenv("DTSEN_STORE__URL", "postgresql+psycopg://dtsen@db/dtsen")
    assert load_settings(tmp_path).store.url == "postgresql+psycopg://dtsen@db/dtsen"


def test_unreachable_store_is_a_clean_error() -> None:
    store = Store.open("postgresql+psycopg://dtsen@127.0.0.1:1/nothing")
    try:
        assert store.ping() is False
        with pytest.raises(StoreError, match="cannot reach the store"), store.reading():
            pass
    finally:
        store.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/s.sqlite3")
    try:
        with store.reading() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.dispose()


def test_writes_commit_and_roll_back(store: Store) -> None:
    with store.writing() as conn:
        assert is_writing(conn)
        conn.execute(sa.update(audit_head).values(seq=5))
    with pytest.raises(RuntimeError), store.writing() as conn:
        conn.execute(sa.update(audit_head).values(seq=9))
        raise RuntimeError("boom")
    with store.reading() as conn:
        assert not is_writing(conn)
        assert conn.execute(sa.select(audit_head.c.seq)).scalar() == 5


def test_a_second_writer_waits_for_the_first(store: Store) -> None:
    """Two write transactions never interleave: the second starts only after the first commits,
    and so reads what the first wrote (SQLite: BEGIN IMMEDIATE; PostgreSQL: the row lock)."""
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with store.writing() as conn:
            seq = conn.execute(sa.select(audit_head.c.seq).with_for_update()).scalar_one()
            first_in.set()
            time.sleep(0.3)
            conn.execute(sa.update(audit_head).values(seq=seq + 1))
            order.append("first committed")

    def second() -> None:
        first_in.wait()
        with store.writing() as conn:
            seq = conn.execute(sa.select(audit_head.c.seq).with_for_update()).scalar_one()
            order.append(f"second read {seq}")
            conn.execute(sa.update(audit_head).values(seq=seq + 1))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order == ["first committed", "second read 1"]
    with store.reading() as conn:
        assert conn.execute(sa.select(audit_head.c.seq)).scalar() == 2
