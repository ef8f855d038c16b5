"""`vault.release = true`: a build leaves no NIK, KK or name in plaintext under `releases/` or
`work/` (every byte of every file, and every Parquet column decoded as text), the vault holds
the values, tokens are stable across builds, and the serving index still answers by NIK.

One project, three builds: R0001 with the setting off (the scan finds the population there, so
the scan can fail), then keys, the setting on, R0002 and R0003 (the scan finds nothing)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dtsen.config import load_settings
from dtsen.engine import read_parquet_arrow
from dtsen.release.build import BuildResult
from dtsen.release.manifest import verify_release
from dtsen.release.sealing import VaultNotReadyError
from dtsen.serve.handle import ReleaseHandle
from dtsen.serve.index import serving_dir
from dtsen.serve.lookups import person_by_nik
from dtsen.vault import Keyring, ReleaseVault, tokens
from dtsen.vault.lifecycle import init_keys

from ..conftest import build_on_duckdb, regency_project

PERSONS = 200


def _needles(project: Path) -> set[bytes]:
    """The synthetic population's NIKs, KKs and full names of two words or more."""
    truth = pq.read_table(project / "truth" / "persons.parquet")
    out: set[str] = set()
    for col in ("nik", "kk"):
        out |= {v for v in truth.column(col).to_pylist() if v and len(v) == 16}
    out |= {v for v in truth.column("full_name").to_pylist() if v and " " in v.strip() and len(v) >= 8}
    return {v.encode("utf-8") for v in out}


def _parquet_text(path: Path) -> bytes:
    """Every column of a Parquet file decoded and cast to text (dictionary pages decompressed)."""
    t = pq.read_table(path)
    parts = []
    for col in t.columns:
        arr = col.combine_chunks()
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        try:
            text = pc.cast(arr, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue  # nested and binary columns: their raw bytes are scanned anyway
        parts.append("\n".join(v for v in text.to_pylist() if v is not None))
    return "\n".join(parts).encode("utf-8")


def scan(roots: list[Path], needles: set[bytes]) -> dict[str, set[bytes]]:
    """{file: needles found} over every file under `roots`: raw bytes, and Parquet decoded."""
    pattern = re.compile(b"|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    found: dict[str, set[bytes]] = {}
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            hits = set(pattern.findall(data))
            if data[:4] == b"PAR1":
                hits |= set(pattern.findall(_parquet_text(path)))
            if hits:
                found[str(path)] = hits
    return found


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return regency_project(tmp_path_factory.mktemp("sealed") / "project", PERSONS, seed=33)


@pytest.fixture(scope="module")
def builds(project: Path) -> dict[str, Any]:
    plain = build_on_duckdb(project)
    found_plain = scan([project / "releases", project / "work"], _needles(project))
    readers = _plain_readers(project, plain.path)  # what the readers say of the plain release
    with (project / "dtsen.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[vault]\nrelease = true\n")
    try:
        build_on_duckdb(project)
        refused: Exception | None = None
    except VaultNotReadyError as exc:
        refused = exc
    init_keys(load_settings(project))
    first, second = build_on_duckdb(project), build_on_duckdb(project)
    return {"plain": plain, "found_plain": found_plain, "refused": refused, "first": first, "second": second,
            "readers": readers, "mixed_diff": _diff(plain.path, first.path)}


def _diff(a: Path, b: Path) -> dict[str, Any]:
    from dtsen.engine import Engine
    from dtsen.release.diff import diff_releases

    engine = Engine.duckdb(memory_limit="1GB", threads=1)
    try:
        return diff_releases(engine, a, b).to_dict()
    finally:
        engine.close()


def _errors(project: Path, release: Path | None) -> list[dict[str, Any]]:
    """`true_errors` of the work tables (release None) or of a published release's tables."""
    from dtsen.engine import Engine
    from dtsen.release.tables import release_tables, work_tables
    from dtsen.verify.effectiveness import true_errors

    engine = Engine.duckdb(memory_limit="1GB", threads=1)
    try:
        tables = work_tables(engine, load_settings(project)) if release is None else release_tables(engine, release)
        t = true_errors(engine, tables, project / "truth").to_pyarrow()
        return t.sort_by("family_id").to_pylist()
    finally:
        engine.close()


def _plain_readers(project: Path, release: Path) -> dict[str, Any]:
    """The workflow registry's records and the true errors of the plain (unsealed) release."""
    from dtsen.workflow.registry import ReleaseRegistry

    persons = read_parquet_arrow(release / "persons.parquet").to_pylist()
    head = next(p for p in persons if p["nik"] and p["kk"] and not p["is_deceased"] and p["birth_date"])
    reg = ReleaseRegistry(release)
    return {"nik": head["nik"], "kk": head["kk"], "family_id": head["family_id"],
            "person": reg.person_by_nik(head["nik"]), "family": reg.family(head["family_id"]),
            "by_kk": reg.family_by_kk(head["kk"]), "errors_work": _errors(project, None),
            "errors_release": _errors(project, release)}


def test_without_keys_a_sealed_build_is_refused_with_what_to_do(builds: dict[str, Any]) -> None:
    assert builds["refused"] is not None
    assert "dtsen keys init" in str(builds["refused"])


def test_the_scan_finds_the_population_in_a_build_without_the_vault(project: Path, builds: dict[str, Any]) -> None:
    found = builds["found_plain"]
    persons = str(builds["plain"].path / "persons.parquet")
    assert any(f.startswith(persons) for f in found)  # Parquet (compressed, dictionary-encoded)
    assert any("/work/" in f for f in found)
    hits = set().union(*found.values())
    assert len(hits) > PERSONS  # NIKs, KKs and names, not one stray value


def test_no_nik_kk_or_name_is_left_in_plaintext_in_releases_or_work(project: Path, builds: dict[str, Any]) -> None:
    shutil.rmtree(builds["plain"].path)  # the release made before the setting was on
    needles = _needles(project)
    found = scan([project / "releases", project / "work"], needles)
    assert found == {}, {f: sorted(h)[:3] for f, h in found.items()}
    # the scanner sees the population where it is in plaintext (the truth files, the sources)
    assert scan([project / "truth"], needles)


def test_the_sealed_release_has_tokens_a_vault_and_a_manifest_that_lists_it(builds: dict[str, Any]) -> None:
    first: BuildResult = builds["first"]
    assert verify_release(first.path) == []
    persons = read_parquet_arrow(first.path / "persons.parquet")
    assert {"nik_token", "kk_token", "full_name_token", "birth_date_token", "address_token"} <= set(persons.column_names)
    assert not {"nik", "kk", "full_name", "birth_date", "birth_place", "address"} & set(persons.column_names)
    families = read_parquet_arrow(first.path / "families.parquet")
    assert "kk_token" in families.column_names and "kk" not in families.column_names
    quarantine = read_parquet_arrow(first.path / "quarantine.parquet")
    assert "raw" not in quarantine.column_names and "record_id" in quarantine.column_names
    files = set(first.manifest["files"])
    for table in ("persons", "families", "provenance", "conflicts", "quarantine", "verification_candidates"):
        assert f"vault/{table}.parquet" in files, table
    assert first.manifest["vault"]["tables"]["persons"][:2] == ["nik", "kk"]
    assert not (first.path / "cek_lapangan").exists()


def test_the_vault_holds_the_values_the_plain_release_had(project: Path, builds: dict[str, Any]) -> None:
    settings = load_settings(project)
    first: BuildResult = builds["first"]
    truth = pq.read_table(project / "truth" / "persons.parquet")
    persons = read_parquet_arrow(first.path / "persons.parquet")
    ids = persons.column("person_id").to_pylist()[:20]
    with ReleaseVault.open(Keyring.from_settings(settings), first.release_id) as vault:
        values = vault.lookup(first.path / "vault" / "persons.parquet", ids, ["nik", "full_name"])
    by_token = dict(zip(persons.column("person_id").to_pylist(), persons.column("nik_token").to_pylist(), strict=True))
    keys = Keyring.from_settings(settings).token_keys()
    known_niks = set(truth.column("nik").to_pylist())
    checked = 0
    for pid in ids:
        nik = values[pid].get("nik")
        if nik is None:
            continue
        assert nik in known_niks
        assert tokens(keys, "nik", pa.array([nik])).to_pylist()[0] == by_token[pid]  # the token is of this NIK
        checked += 1
    assert checked >= 10


def test_tokens_are_stable_across_builds(builds: dict[str, Any]) -> None:
    a = read_parquet_arrow(builds["first"].path / "persons.parquet")
    b = read_parquet_arrow(builds["second"].path / "persons.parquet")
    ta = dict(zip(a.column("person_id").to_pylist(), a.column("nik_token").to_pylist(), strict=True))
    tb = dict(zip(b.column("person_id").to_pylist(), b.column("nik_token").to_pylist(), strict=True))
    common = [p for p in ta if p in tb and ta[p] is not None]
    assert len(common) > PERSONS // 2
    assert all(ta[p] == tb[p] for p in common)
    # each release has its own data key: the same value encrypts differently
    va = pq.read_table(builds["first"].path / "vault" / "persons.parquet").column("ciphertext").to_pylist()[:5]
    vb = pq.read_table(builds["second"].path / "vault" / "persons.parquet").column("ciphertext").to_pylist()[:5]
    assert not set(va) & set(vb)


def test_the_serving_index_answers_a_nik_lookup_from_the_vault(project: Path, builds: dict[str, Any]) -> None:
    settings = load_settings(project)
    second: BuildResult = builds["second"]
    index = serving_dir(settings) / second.release_id
    if not index.exists():
        from dtsen.serve.index import index_release

        index_release(settings, second.release_id)
    truth = pq.read_table(project / "truth" / "persons.parquet").to_pylist()
    person = next(p for p in truth if p["nik"] and not p["is_deceased"])
    h = ReleaseHandle(index, second.path)
    try:
        found = person_by_nik(h, person["nik"])
    finally:
        h.close()
    assert found is not None and found.person.nik == person["nik"]
    with ReleaseVault.open(Keyring.from_settings(settings), second.release_id) as vault:
        plain = vault.lookup(second.path / "vault" / "persons.parquet", [found.person.person_id], ["full_name"])
    assert found.person.full_name == plain[found.person.person_id]["full_name"]
    assert found.person.full_name  # decrypted, not a token: the index of a sealed release answers by NIK


def test_village_lists_of_a_sealed_release_are_written_on_request_with_names(
        project: Path, builds: dict[str, Any], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dtsen.cli import app

    second: BuildResult = builds["second"]
    region = read_parquet_arrow(second.path / "verification_candidates.parquet").column("region_code")[0].as_py()
    out = tmp_path / "lists"
    res = CliRunner().invoke(app, ["releases", "checks", region, "--out", str(out), "--project", str(project)])
    assert res.exit_code == 0, res.output
    visits = list(out.rglob("kunjungan.csv"))
    assert visits
    text = "\n".join(p.read_text(encoding="utf-8") for p in visits).encode("utf-8")
    assert any(n in text for n in _needles(project))  # the officer's list names the families, decrypted


def test_agency_pseudonyms_of_a_sealed_release_differ_and_translate_back(project: Path, builds: dict[str, Any]) -> None:
    from dtsen.vault import pseudonyms, translate

    keys = Keyring.from_settings(load_settings(project)).token_keys()
    ids = read_parquet_arrow(builds["second"].path / "persons.parquet").column("person_id").combine_chunks()
    ids = pc.cast(ids, pa.int64())
    kemensos, kemenkes = pseudonyms(keys, "kemensos", ids), pseudonyms(keys, "kemenkes", ids)
    assert len(set(kemensos.to_pylist())) == len(ids)
    assert not set(kemensos.to_pylist()) & set(kemenkes.to_pylist())  # two agencies' extracts do not join
    assert translate(keys, "kemensos", kemensos).to_pylist() == ids.to_pylist()  # the registry translates back


def test_the_workflow_registry_reads_a_sealed_release_through_its_vault(project: Path, builds: dict[str, Any]) -> None:
    from dtsen.workflow.registry import ReleaseRegistry, SealedReleaseError, current_registry

    want = builds["readers"]
    second: BuildResult = builds["second"]
    settings = load_settings(project)
    reg = current_registry(settings.path(settings.release.dir), settings)
    assert reg is not None and reg.sealed and reg.release_id == second.release_id
    person = reg.person_by_nik(want["nik"])
    assert person is not None and person.nik == want["nik"]
    assert person == want["person"]  # names, KK, birth date, address decrypted: the plain release's record
    assert reg.family(want["family_id"]) == want["family"]
    assert reg.family_by_kk(want["kk"]) == want["by_kk"]
    assert want["family"].members and all(m.full_name for m in want["family"].members)
    assert reg.person_by_nik("3204000000000000") is None and reg.person_by_nik("") is None
    with pytest.raises(SealedReleaseError, match="sealed"):  # no keys: no answer, not records without names
        ReleaseRegistry(second.path).person_by_nik(want["nik"])


def test_diff_compares_nik_by_token_between_sealed_releases(builds: dict[str, Any], tmp_path: Path) -> None:
    first: BuildResult = builds["first"]
    second: BuildResult = builds["second"]
    same = _diff(first.path, second.path)
    n = same["persons"]["a"]
    assert same["persons"]["b"] == n and same["persons"]["added"] == same["persons"]["removed"] == 0
    assert same["persons"]["nik_changed"] == 0
    assert same["families"]["b"] == same["families"]["a"] > 0
    # B with two persons' NIK tokens changed (one to another person's token, one emptied)
    changed = tmp_path / second.release_id
    shutil.copytree(second.path, changed, ignore=shutil.ignore_patterns("vault", "link", "rapor", "model"))
    path = changed / "persons.parquet"
    persons = read_parquet_arrow(path)
    toks = persons.column("nik_token").to_pylist()
    filled = [i for i, t in enumerate(toks) if t]
    toks[filled[0]], toks[filled[1]] = toks[filled[2]], None
    persons = persons.set_column(persons.column_names.index("nik_token"), "nik_token", pa.array(toks, pa.string()))
    shutil.rmtree(path)
    pq.write_table(persons, path)
    assert _diff(first.path, changed)["persons"]["nik_changed"] == 2
    # a plain release and a sealed one have no NIK column in common: not compared, not zero
    mixed = builds["mixed_diff"]
    assert "nik_changed" not in mixed["persons"] and mixed["persons"]["added"] == 0


def test_the_effectiveness_of_a_sealed_release_is_that_of_its_build(project: Path, builds: dict[str, Any]) -> None:
    want = builds["readers"]
    assert want["errors_release"] == want["errors_work"]  # the release's tables give what the work tables gave
    assert any(r["error"] for r in want["errors_work"]) and len(want["errors_work"]) > 10
    got = _errors(project, builds["first"].path)  # sealed; its work directory is scrubbed
    assert got == want["errors_work"]
