"""Sealing a release (`vault.release = true`): identifying values into the release's vault,
keyed tokens in their place in the tables.

    RELEASE/vault/<table>.parquet   record_id, field, ciphertext (`dtsen.vault.ReleaseVault`)
    RELEASE/<table>.parquet         the table, each identifying column `c` replaced by `c_token`

Identifying columns (`IDENTIFYING`: column -> token kind) are NIK, KK, names, birth date and
place, address, mother's name and phone. A table's vault rows are keyed by its own id
(`person_id`, `family_id`) or, for tables without one, by a `record_id` (row number in the
table's deterministic order) that the sealed table carries. Tables of field values
(provenance, conflicts) hold the value of an identifying field only in the vault and its token
in `<column>_token`; the quarantine keeps its raw rows and their detail only in the vault.

Tokens come from the project's token key (the same for every release: stable across builds),
the vault from the release's own data key (wrapped into `releases/keys/R….json`). The build
links on plain values inside the work directory; `scrub_work` removes what it leaves there.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from dtsen.config import Settings
from dtsen.engine import Engine
from dtsen.errors import DtsenError
from dtsen.vault.errors import VaultError
from dtsen.vault.keyring import Keyring, TokenKeys
from dtsen.vault.tokens import tokens, tokens_per_row
from dtsen.vault.vault import ReleaseVault

VAULT_DIR = "vault"
RECORD_ID = "record_id"
TOKEN_SUFFIX = "_token"
# column (or field name in provenance/conflicts) -> token kind
IDENTIFYING: dict[str, str] = {
    "nik": "nik", "kk": "kk", "full_name": "name", "birth_date": "date", "birth_place": "name",
    "address": "text", "mother_name": "name", "phone": "phone",
}  # fmt: skip
ID_COLUMNS = {"persons": "person_id", "families": "family_id"}
VALUE_COLUMNS = {"provenance": ("value",), "conflicts": ("chosen_value", "other_value")}  # when `field` is identifying
RAW_COLUMNS = {"quarantine": ("raw", "detail")}  # whole columns, vault only
# what the next build needs from the work directory (everything else is removed by `scrub_work`)
WORK_KEPT = (("welfare", "models"),)


class VaultNotReadyError(DtsenError):
    """`vault.release` is on but the project has no keys to seal a release with."""


@dataclass(frozen=True)
class _TokenColumns:
    """The tokens of one table's identifying values, batch by batch (for `Engine.map_batches`,
    which runs it in this process on DuckDB and on the executors on Spark: picklable).

    In: the id column, the identifying columns (`plain`: column -> kind), the value columns and
    `field` (when the table has value columns). Out: the id, then `<column>_token` for each."""

    keys: TokenKeys
    id_col: str
    id_type: pa.DataType
    plain: tuple[tuple[str, str], ...]  # (column, kind)
    values: tuple[str, ...]

    def schema(self) -> pa.Schema:
        names = [c for c, _ in self.plain] + list(self.values)
        return pa.schema([pa.field(self.id_col, self.id_type),
                          *(pa.field(f"{c}{TOKEN_SUFFIX}", pa.string()) for c in names)])

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays = [batch.column(self.id_col).cast(self.id_type)]
        arrays += [tokens(self.keys, kind, batch.column(c)).cast(pa.string()) for c, kind in self.plain]
        if self.values:
            fields = batch.column("field").cast(pa.string())
            kinds = pa.array(list(IDENTIFYING.values()), pa.string()).take(
                pc.index_in(fields, value_set=pa.array(list(IDENTIFYING), pa.string())))
            arrays += [tokens_per_row(self.keys, kinds, batch.column(c).cast(pa.string())) for c in self.values]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema())


@dataclass
class Sealer:
    """Seals the tables of one release being written (see the module docstring).

    The tokens are computed on Arrow batches by `Engine.map_batches` (DuckDB's stream in this
    process, Spark's executors), written under `scratch` (tokens only, no plain value) and
    joined back to the table by its id; the vault is written from the engine's sorted stream."""

    engine: Engine
    vault: ReleaseVault
    token_keys: TokenKeys
    directory: Path
    scratch: Path
    sealed: dict[str, list[str]] = field(default_factory=dict)  # table -> fields in its vault

    def _tokens(self, name: str, table: ir.Table, id_col: str, plain: list[str], values: list[str]) -> ir.Table:
        """(id_col renamed `_sid`, `<c>_token` for each plain and value column) of `table`."""
        batch = _TokenColumns(self.token_keys, id_col, table.schema()[id_col].to_pyarrow(),
                              tuple((c, IDENTIFYING[c]) for c in plain), tuple(values))
        cols = [id_col, *plain, *values, *(["field"] if values else [])]
        out = self.engine.map_batches(table.select(*cols), batch, batch.schema(), self.scratch / name)
        return out.rename(_sid=id_col)

    def seal(self, name: str, table: ir.Table, order_by: list[str]) -> tuple[ir.Table, list[str]]:
        """The table to publish in place of `table` and its order; writes `vault/<name>.parquet`."""
        columns = set(table.columns)
        plain = [c for c in IDENTIFYING if c in columns]
        values = [c for c in VALUE_COLUMNS.get(name, ()) if c in columns and "field" in columns]
        raw = [c for c in RAW_COLUMNS.get(name, ()) if c in columns]
        if not (plain or values or raw):
            return table, order_by
        id_col = ID_COLUMNS.get(name)
        if id_col is None or id_col not in columns:
            id_col = RECORD_ID
            table = table.mutate(**{RECORD_ID: ibis.row_number().over(order_by=[table[c] for c in order_by])})
            order_by = [*order_by, RECORD_ID]
        table = self.engine.materialize(table)  # one evaluation: the ids in the vault are the ids of the rows
        identifying = table.field.isin(list(IDENTIFYING)) if values else None
        vault_cols: dict[str, ir.Value] = {id_col: table[id_col]}
        for c in plain:
            vault_cols[c] = table[c].cast("string")
        for c in values:
            assert identifying is not None
            vault_cols[c] = ibis.ifelse(identifying, table[c].cast("string"), ibis.null("string"))
        for c in raw:
            vault_cols[c] = table[c].cast("string")
        fields = [c for c in vault_cols if c != id_col]
        self.vault.write(self.directory / f"{name}.parquet", name, _stream(self.engine, table.select(**vault_cols)
                                                                              .order_by(id_col)), id_col, fields)
        self.sealed[name] = fields
        if not (plain or values):
            return table.drop(*raw), [c for c in order_by if c in table.columns and c not in raw]
        toks = self._tokens(name, table, id_col, plain, values)
        token_cols = [f"{c}{TOKEN_SUFFIX}" for c in (*plain, *values)]
        joined = table.left_join(toks, table[id_col] == toks._sid)
        out = joined.select(*table.columns, *token_cols)
        if values:
            hide = out.field.isin(list(IDENTIFYING))
            out = out.mutate(**{c: ibis.ifelse(hide, ibis.null("string"), out[c].cast("string")) for c in values})
        out = out.drop(*plain, *raw)
        return out, [c for c in order_by if c in out.columns]


def _stream(engine: Engine, expr: ir.Table, rows: int = 200_000) -> Iterator[pa.RecordBatch]:
    """`expr` as Arrow batches in its order, never whole in memory on DuckDB."""
    if engine.kind == "duckdb":
        engine.con._run_pre_execute_hooks(expr)
        yield from engine.con.con.sql(engine.con.compile(expr)).to_arrow_reader(rows)
    else:
        yield from expr.to_pyarrow_batches(chunk_size=rows)


def open_keys(settings: Settings) -> tuple[Keyring, TokenKeys]:
    """The keyring and token keys a sealed build needs; a clear error when they are missing."""
    probe = Keyring(None, settings.path(settings.release.dir))
    if not probe.has_token_keys():
        raise VaultNotReadyError(
            "vault.release = true, tetapi proyek belum punya kunci / but the project has no keys "
            f"({probe.token_file} is missing): run `dtsen keys init` first (and keep an offline copy of the key file)"
        )
    try:
        keyring = Keyring.from_settings(settings)
        return keyring, keyring.token_keys()
    except VaultError as exc:
        raise VaultNotReadyError(f"vault.release = true, but the project's keys do not open: {exc}") from None


def sealer_for(engine: Engine, settings: Settings, keyring: Keyring, token_keys: TokenKeys, release_id: str,
               staging: Path) -> Sealer:
    """A new data key for `release_id` (replacing one a failed build left) and its sealer."""
    vault = ReleaseVault.create(keyring, release_id, workers=settings.vault.workers, replace=True)
    return Sealer(engine, vault, token_keys, staging / VAULT_DIR, settings.work_dir / "sealing" / release_id)


def scrub_work(work_dir: Path) -> list[str]:
    """Remove from the work directory everything but what the next build needs (the current
    PMT model); returns the removed top-level paths, relative to `work_dir`."""
    removed: list[str] = []
    if not work_dir.exists():
        return removed
    keep = {Path(*parts) for parts in WORK_KEPT}
    keep_parents = {p for k in keep for p in k.parents if p != Path(".")}
    for path in sorted(work_dir.rglob("*"), key=lambda p: len(p.parts)):
        rel = path.relative_to(work_dir)
        if not path.exists() and not path.is_symlink():
            continue
        if rel in keep or any(k in rel.parents for k in keep) or rel in keep_parents:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(str(rel))
    return removed


def is_sealed(manifest: dict[str, Any]) -> bool:
    return bool(manifest.get("vault"))


def unsealed(engine: Engine, release_dir: Path, release_id: str, keyring: Keyring, name: str,
             table: ir.Table) -> ir.Table:
    """`table` of a sealed release with its identifying columns decrypted back in place of their
    tokens (for the serving index). The caller is responsible for who may see the result."""
    path = release_dir / VAULT_DIR / f"{name}.parquet"
    id_col = ID_COLUMNS.get(name, RECORD_ID)
    with ReleaseVault.open(keyring, release_id) as vault:
        fields = [f for f in vault.metadata(path)["fields"] if f in IDENTIFYING]
        long = vault.read(path, fields=fields)
    rows = engine.from_arrow(long)
    wide = rows.group_by(_rid=rows.record_id).aggregate(
        **{f: rows.value.max(where=rows.field == f) for f in fields})
    out = table.left_join(wide, table[id_col] == wide._rid).drop("_rid")
    if "birth_date" in fields:
        out = out.mutate(birth_date=out.birth_date.cast("date"))
    return out.drop(*[f"{f}{TOKEN_SUFFIX}" for f in fields if f"{f}{TOKEN_SUFFIX}" in out.columns])
