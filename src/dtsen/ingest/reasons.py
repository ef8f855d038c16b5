"""The catalogue of reasons a row is quarantined or flagged, with its default severity.

A `reject` reason sends the row to quarantine (kept verbatim, with every reason it has); a
`warn` reason keeps the row and lists the reason in its `flags`. The project file may change a
reason's severity under `[ingest.severity]`. Messages are in Bahasa Indonesia first, since the
people who fix the data read them.

Reasons about one field of several (`value_invalid`, `code_unknown`, `value_out_of_range`,
`control_chars_removed`) are written `code:field` in a row's `flags` and `reasons`
(`value_out_of_range:floor_area`), so that a person sees which column to fix; the severity is
the code's. `reason_code` strips the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["reject", "warn"]


@dataclass(frozen=True)
class Reason:
    code: str
    severity: Severity
    message: str  # Bahasa Indonesia
    english: str


_ALL = (
    # structure
    Reason("ragged_row", "reject", "jumlah kolom baris tidak sama dengan header", "row has a different number of fields than the header"),
    Reason("duplicate_row", "warn", "baris persis sama dengan baris sebelumnya di sumber ini (disimpan, ditautkan ke orang yang sama)", "exact copy of an earlier row of this source (kept, linked to the same person)"),
    Reason("identity_missing", "reject", "tidak ada yang mengenali orang: tanpa NIK yang dapat dipakai, dan tanpa nama beserta tanggal lahir, KK atau desa", "nothing identifies anyone: no usable NIK, and no name with a birth date, a KK or a village (families: no usable KK or NIK and no name)"),
    # NIK
    Reason("nik_excel_damaged", "warn", "NIK rusak oleh Excel (notasi ilmiah, desimal, atau digit akhir dibulatkan): NIK tidak dipakai untuk penautan", "NIK damaged by Excel (scientific notation, decimal, or rounded last digits): withheld from linkage"),
    Reason("nik_missing", "warn", "NIK kosong", "NIK is empty"),
    Reason("nik_bad_format", "warn", "NIK bukan 16 digit", "NIK is not 16 digits"),
    Reason("nik_bad_region", "warn", "kode kecamatan pada NIK tidak dikenal", "NIK district part is not a known district"),
    Reason("nik_bad_date", "warn", "tanggal lahir pada NIK tidak mungkin", "NIK birth-date part is not a real date"),
    Reason("nik_bad_serial", "warn", "nomor urut NIK 0000", "NIK serial is 0000"),
    Reason("nik_birth_date_mismatch", "warn", "tanggal lahir pada NIK berbeda dengan tanggal lahir tercatat", "NIK birth date differs from the recorded birth date"),
    Reason("nik_sex_mismatch", "warn", "jenis kelamin pada NIK berbeda dengan yang tercatat", "NIK sex differs from the recorded sex"),
    # KK
    Reason("kk_excel_damaged", "warn", "nomor KK rusak oleh Excel: KK tidak dipakai untuk penautan", "KK number damaged by Excel: withheld from linkage"),
    Reason("kk_missing", "warn", "nomor KK kosong", "KK number is empty"),
    Reason("kk_bad_format", "warn", "nomor KK bukan 16 digit", "KK number is not 16 digits"),
    Reason("kk_bad_region", "warn", "kode wilayah pada nomor KK tidak dikenal", "KK region part is not a known district"),
    Reason("kk_bad_serial", "warn", "nomor urut KK 0000 (sisa pembulatan Excel): KK tidak dipakai untuk penautan", "KK serial is 0000 (what Excel's rounding leaves): withheld from linkage"),
    # person fields
    Reason("name_missing", "warn", "nama kosong", "name is empty"),
    Reason("sex_invalid", "warn", "jenis kelamin tidak dikenali", "sex code not recognised"),
    Reason("birth_date_missing", "warn", "tanggal lahir kosong", "birth date is empty"),
    Reason("birth_date_invalid", "warn", "tanggal lahir tidak valid (mis. 31-02-1990): tanggal lahir dikosongkan", "birth date is not a real date (e.g. 31-02-1990): withheld"),
    Reason("birth_date_future", "warn", "tanggal lahir setelah tanggal data: tanggal lahir dikosongkan", "birth date is after the source's as-of date: withheld"),
    Reason("age_implausible", "warn", "umur di atas batas wajar: tanggal lahir dikosongkan", "age above the plausible maximum: birth date withheld"),
    Reason("code_unknown", "warn", "kode isian tidak dikenali (lihat kolom)", "a coded value is not in the mapping's translation"),
    Reason("value_invalid", "warn", "angka atau tanggal tidak dapat dibaca", "a number or date cannot be read"),
    # region
    Reason("region_bad_format", "warn", "kode wilayah bukan format PP.KK.CC.DDDD: kode wilayah dikosongkan", "region code is not in PP.KK.CC.DDDD format: withheld"),
    Reason("region_unknown", "warn", "kode wilayah tidak ada di daftar Kemendagri: kode wilayah dikosongkan", "region code not in the Kemendagri list: withheld"),
    Reason("region_missing", "warn", "kode wilayah kosong dan nama desa tidak dapat dicocokkan", "no region code and the village name could not be resolved"),
    # field-check results (ODK / KoboToolbox exports: sources that map `family_ref`)
    Reason("family_ref_missing", "reject", "ID keluarga yang dikunjungi kosong", "the visited family's id is empty"),
    Reason("family_unknown", "reject", "ID keluarga tidak ada di rilis yang berlaku", "the family id is not a family of the current release"),
    Reason("officer_not_assigned", "reject", "petugas tidak ditugaskan di desa keluarga ini", "the officer is not assigned to the family's village"),
    Reason("visit_in_future", "reject", "tanggal kunjungan setelah tanggal data", "the visit date is after the source's as-of date"),
    # reading and values (issues 11 and 12); a code written `code:field` names the field
    Reason("field_too_large", "reject", "isian terlalu panjang (melebihi batas karakter per kolom)", "a field is longer than the reader's limit (field too large)"),
    Reason("file_unreadable", "reject", "berkas tidak dapat dibaca; seluruh berkas dikarantina", "the file cannot be read; the whole file is quarantined"),
    Reason("file_columns_missing", "reject", "berkas tidak memuat kolom yang dipetakan; seluruh berkas dikarantina", "the file lacks mapped columns; the whole file is quarantined"),
    Reason("control_chars_removed", "warn", "karakter kontrol (mis. NUL, ESC) dihapus dari isian", "control characters (NUL, ESC, ...) were removed from the field"),
    Reason("value_out_of_range", "warn", "angka di luar rentang wajar; nilai tidak dipakai", "a number outside its plausible range; the value is withheld"),
    Reason("deceased_conflict", "warn", "ada tanggal meninggal, tetapi status tercatat hidup", "a death date is given, but the row says alive"),
    Reason("kind_unknown", "reject", "jenis baris (mis. RUTA/ART) tidak dikenali", "the row's record kind is none of the kinds declared for the file"),
    Reason("parent_row_missing", "warn", "baris induk (mis. rumah tangga) dengan kunci yang sama tidak ditemukan atau tidak tunggal", "no single row of the parent kind (household) has this row's key"),
    Reason("region_name_unresolved", "warn", "nama wilayah (provinsi/kabupaten/kecamatan/desa) tidak cocok dengan daftar Kemendagri", "a region name does not match the Kemendagri list (the first level that did not)"),
    Reason("summary_row", "reject", "baris jumlah/total (mis. JUMLAH, TOTAL, GRAND TOTAL dengan angka), bukan data orang atau keluarga", "a total line (JUMLAH, TOTAL, GRAND TOTAL with numbers) without an identifier: not a person or a family"),
    Reason("person_without_name_or_nik", "reject", "baris orang tanpa NIK dan tanpa nama (bukan data orang?)", "a person row with neither NIK nor name: not a person (a household row?)"),
)

REASONS: dict[str, Reason] = {r.code: r for r in _ALL}


def reason_code(token: str) -> str:
    """The reason code of a flag token: `value_out_of_range:floor_area` -> `value_out_of_range`."""
    return token.split(":", 1)[0]


def describe(token: str) -> str:
    """A flag token in words, Bahasa Indonesia: the reason's message and the field it names."""
    code, _, field = token.partition(":")
    reason = REASONS.get(code)
    text = reason.message if reason else code
    return f"{text} (kolom {field})" if field else text


def severities(overrides: dict[str, Severity] | None = None) -> dict[str, Severity]:
    """Severity per reason code, with the project's overrides applied."""
    out: dict[str, Severity] = {code: r.severity for code, r in REASONS.items()}
    out.update(overrides or {})
    return out
