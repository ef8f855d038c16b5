"""`dtsen.release.sealing` (DuckDB, and Spark giving the same tables and vault): identifying columns out to the vault, tokens in, the
quarantine's raw rows vault-only, field values sealed only for identifying fields; the work
directory scrubbed down to what the next build needs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dtsen.config import Settings, load_settings
from dtsen.engine import Engine, read_parquet_arrow
from dtsen.release.sealing import open_keys, scrub_work, sealer_for, unsealed
from dtsen.vault import ReleaseVault, tokens
from dtsen.vault.lifecycle import init_keys

from ..vault.conftest import write_project

PERSONS = pa.table({
    "person_id": pa.array([3, 1, 2], pa.int64()),
    "nik": ["3204055310810001", "3204052809800001", None],
    "full_name": ["ADE SURYANI", "JAMAL FATQUN", "SITI"],
    "birth_date": pa.array([dt.date(1981, 10, 13), dt.date(1980, 9, 28), None], pa.date32()),
    "region_code": ["32.04.05.2003"] * 3,
})  # fmt: skip
PROVENANCE = pa.table({
    "entity": ["person", "person", "family"], "id": pa.array([1, 1, 1], pa.int64()),
    "field": ["nik", "education", "address"], "value": ["3204052809800001", "SD", "DUSUN BANJARREJO"],
})  # fmt: skip
QUARANTINE = pa.table({
    "source": ["dtks", "dtks"], "file": ["a.csv", "a.csv"], "sheet": pa.array([None, None], pa.string()),
    "row": pa.array([9, 8], pa.int64()), "reasons": ["ragged_row", "bad_nik"],
    "raw": ["ART1,3204111805170001,SITI FITRIA", "ART2,12,BUDI"], "detail": ["expected 14 fields", "NIK 12"],
})  # fmt: skip


def test_a_sealed_table_has_tokens_and_its_vault_the_values(duck: Engine, tmp_path: Path) -> None:
    engine = duck
    settings = load_settings(write_project(tmp_path / "proj"))
    init_keys(settings)
    keyring, keys = open_keys(settings)
    release = tmp_path / "R0001"
    sealer = sealer_for(engine, settings, keyring, keys, "R0001", release)
    try:
        persons, order = sealer.seal("persons", engine.from_arrow(PERSONS), ["person_id"])
        prov, prov_order = sealer.seal("provenance", engine.from_arrow(PROVENANCE), ["entity", "id", "field"])
        quar, quar_order = sealer.seal("quarantine", engine.from_arrow(QUARANTINE), ["source", "file", "sheet", "row"])
        for name, t, o in (("persons", persons, order), ("provenance", prov, prov_order), ("quarantine", quar, quar_order)):
            engine.write_parquet(t, release / f"{name}.parquet", order_by=o)
    finally:
        sealer.vault.close()
    p = read_parquet_arrow(release / "persons.parquet")
    assert p.column_names == ["person_id", "region_code", "nik_token", "full_name_token", "birth_date_token"]
    want = tokens(keys, "nik", pa.array(["3204052809800001", None, "3204055310810001"]))
    assert p.column("nik_token").to_pylist() == want.to_pylist()  # ids 1, 2, 3; no NIK, no token
    assert p.column("birth_date_token").to_pylist()[0] == tokens(keys, "date", pa.array(["1980-09-28"])).to_pylist()[0]
    assert sealer.sealed == {"persons": ["nik", "full_name", "birth_date"], "provenance": ["value"],
                             "quarantine": ["raw", "detail"]}
    with ReleaseVault.open(keyring, "R0001") as vault:
        got = vault.lookup(release / "vault" / "persons.parquet", [1, 2, 3])
        assert got[1] == {"nik": "3204052809800001", "full_name": "JAMAL FATQUN", "birth_date": "1980-09-28"}
        assert got[2] == {"full_name": "SITI"}
        q = read_parquet_arrow(release / "quarantine.parquet")
        assert "raw" not in q.column_names and "detail" not in q.column_names
        rows = dict(zip(q.column("row").to_pylist(), q.column("record_id").to_pylist(), strict=True))
        raw = vault.lookup(release / "vault" / "quarantine.parquet", [rows[8]], ["raw"])
        assert raw[rows[8]]["raw"] == "ART2,12,BUDI"  # the record id names the right row
        pv = read_parquet_arrow(release / "provenance.parquet").to_pylist()
        by_field = {r["field"]: r for r in pv}
        assert by_field["education"]["value"] == "SD" and by_field["education"]["value_token"] is None
        assert by_field["nik"]["value"] is None and by_field["address"]["value"] is None
        assert by_field["nik"]["value_token"] == want.to_pylist()[0]  # joins with persons.nik_token
        sealed_values = vault.lookup(release / "vault" / "provenance.parquet", [by_field["nik"]["record_id"]])
        assert sealed_values[by_field["nik"]["record_id"]] == {"value": "3204052809800001"}
        assert by_field["education"]["record_id"] not in {
            r["record_id"] for r in vault.read(release / "vault" / "provenance.parquet").to_pylist()}
    back = unsealed(engine, release, "R0001", keyring, "persons", engine.read_parquet(release / "persons.parquet"))
    rows_back = {r["person_id"]: r for r in back.to_pyarrow().to_pylist()}
    assert rows_back[3]["nik"] == "3204055310810001" and rows_back[3]["birth_date"] == dt.date(1981, 10, 13)
    assert "nik_token" not in rows_back[3]


def test_scrubbing_the_work_directory_keeps_only_the_current_model(tmp_path: Path) -> None:
    work = tmp_path / "work"
    for rel in ("ingest/records/dtks/part-0.parquet", "link/persons.parquet", "welfare/ranking.parquet",
                "welfare/models/current.json", "welfare/models/ols-1/model.json", "staging/dtks/x.parquet"):
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text("x", encoding="utf-8")
    removed = scrub_work(work)
    left = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file())
    assert left == ["welfare/models/current.json", "welfare/models/ols-1/model.json"]
    assert {"ingest", "link", "staging", "welfare/ranking.parquet"} <= set(removed)


@pytest.mark.parametrize("broken", ["no keys", "no key file"])
def test_a_sealed_build_without_keys_says_to_run_keys_init(tmp_path: Path, broken: str) -> None:
    from dtsen.release.sealing import VaultNotReadyError

    settings = load_settings(write_project(tmp_path / "proj"))
    if broken == "no key file":
        init_keys(settings)
        settings.path(settings.vault.key_file).unlink()
    with pytest.raises(VaultNotReadyError, match="keys"):
        open_keys(settings)


def _seal_all(engine: Engine, settings: Settings, release: Path, release_id: str) -> dict[str, pa.Table]:
    """persons, provenance and quarantine sealed on `engine` into `release`; the published tables
    (sorted) and each vault decrypted (record_id, field, value), sorted."""
    keyring, keys = open_keys(settings)
    sealer = sealer_for(engine, settings, keyring, keys, release_id, release)
    inputs = {"persons": (PERSONS, ["person_id"]), "provenance": (PROVENANCE, ["entity", "id", "field"]),
              "quarantine": (QUARANTINE, ["source", "file", "sheet", "row"])}
    try:
        for name, (data, order) in inputs.items():
            table, out_order = sealer.seal(name, engine.from_arrow(data), order)
            engine.write_parquet(table, release / f"{name}.parquet", order_by=out_order)
    finally:
        sealer.vault.close()
    out: dict[str, pa.Table] = {}
    with ReleaseVault.open(keyring, release_id) as vault:
        for name in inputs:
            t = read_parquet_arrow(release / f"{name}.parquet")
            out[name] = t.sort_by([(c, "ascending") for c in t.column_names if c not in ("sheet",)])
            v = vault.read(release / "vault" / f"{name}.parquet")
            out[f"vault/{name}"] = v.sort_by([("record_id", "ascending"), ("field", "ascending")])
    return out


@pytest.mark.spark
def test_sealing_on_spark_writes_what_duckdb_writes(duck: Engine, tmp_path: Path) -> None:
    from ..conftest import _spark_engine, spark_skip_reason

    reason = spark_skip_reason()
    if reason:
        pytest.skip(reason)
    settings = load_settings(write_project(tmp_path / "proj"))
    init_keys(settings)
    on_duck = _seal_all(duck, settings, tmp_path / "R0001", "R0001")
    on_spark = _seal_all(_spark_engine(), settings, tmp_path / "R0002", "R0002")
    assert set(on_spark) == set(on_duck)
    for name, want in on_duck.items():
        got = on_spark[name]
        assert got.column_names == want.column_names, name
        assert got.to_pylist() == want.to_pylist(), name  # tokens are deterministic; the vault decrypted
    # known answers, so that two engines agreeing on something wrong fails too
    persons = {r["person_id"]: r for r in on_spark["persons"].to_pylist()}
    _, keys = open_keys(settings)
    assert persons[1]["nik_token"] == tokens(keys, "nik", pa.array(["3204052809800001"]))[0].as_py()
    assert persons[2]["nik_token"] is None and persons[2]["full_name_token"] is not None
    prov = {r["field"]: r for r in on_spark["provenance"].to_pylist()}
    assert prov["address"]["value_token"] == tokens(keys, "text", pa.array(["DUSUN BANJARREJO"]))[0].as_py()
    assert prov["address"]["value"] is None and prov["education"]["value"] == "SD"
    assert {r["value"] for r in on_spark["vault/quarantine"].to_pylist()} >= {"ART2,12,BUDI", "NIK 12"}
    # each release seals under its own data key: the ciphertexts differ, the values do not
    c1 = set(pq.read_table(tmp_path / "R0001" / "vault" / "persons.parquet").column("ciphertext").to_pylist())
    c2 = set(pq.read_table(tmp_path / "R0002" / "vault" / "persons.parquet").column("ciphertext").to_pylist())
    assert c1 and not c1 & c2
