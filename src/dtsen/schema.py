"""The canonical data model: the fields every source is mapped onto, and their vocabularies.

A source mapping (see `dtsen.config`) translates a ministry's columns and codes into these
fields. Types are logical: `string`, `date`, `int`, `float`, `bool`; the standardization step
turns raw text into them on the engine.

Numbers have plausible ranges (`FieldSpec.low`, `FieldSpec.high`, inclusive; None is open): a
value outside is withheld (null) and the row flagged `value_out_of_range:<field>`. A project
may change a range under `[ingest.ranges]`. RT and RW are 1 to 999. A person's age (from the
birth date) is checked against `ingest.max_age` (`age_implausible`) and may not be negative
(`birth_date_future`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["person", "family"]
DType = Literal["string", "date", "int", "float", "bool"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    dtype: DType
    description: str
    vocabulary: tuple[str, ...] = ()
    low: float | None = None  # plausible range of a number (inclusive); None: open
    high: float | None = None

    @property
    def has_range(self) -> bool:
        return self.low is not None or self.high is not None


SEX = ("L", "P")
RELATIONSHIP = (
    "KEPALA_KELUARGA",
    "SUAMI",
    "ISTRI",
    "ANAK",
    "MENANTU",
    "CUCU",
    "ORANG_TUA",
    "MERTUA",
    "FAMILI_LAIN",
    "LAINNYA",
)
# The relationship vocabulary: the values a KK lists (above; the synthetic population draws
# from them by position), and PASANGAN, a spouse whose source does not say husband or wife (BPS
# and the old welfare list write 2 = istri/suami).
RELATIONSHIP_VOCABULARY = (*RELATIONSHIP, "PASANGAN")
MARITAL_STATUS = ("BELUM_KAWIN", "KAWIN", "CERAI_HIDUP", "CERAI_MATI")
EDUCATION = (
    "TIDAK_SEKOLAH",
    "SD",
    "SMP",
    "SMA",
    "DIPLOMA",
    "S1",
    "S2",
    "S3",
)
DISABILITY = ("TIDAK", "FISIK", "SENSORIK", "INTELEKTUAL", "MENTAL", "GANDA")
FLOOR = ("TANAH", "BAMBU", "KAYU", "SEMEN", "KERAMIK")
WALL = ("BAMBU", "KAYU", "TEMBOK")
ROOF = ("JERAMI", "SENG", "GENTENG", "BETON")
OWNERSHIP = ("MILIK_SENDIRI", "SEWA", "BEBAS_SEWA", "DINAS", "LAINNYA")
WATER = ("LEDENG", "SUMUR_TERLINDUNG", "SUMUR_TIDAK_TERLINDUNG", "AIR_KEMASAN", "SUNGAI", "LAINNYA")
SANITATION = ("SENDIRI", "BERSAMA", "UMUM", "TIDAK_ADA")
LIGHTING = ("PLN_METER", "PLN_TANPA_METER", "NON_PLN", "TIDAK_ADA")
COOKING_FUEL = ("LISTRIK", "GAS", "MINYAK_TANAH", "KAYU_BAKAR", "LAINNYA", "TIDAK_MEMASAK")
# what a field check found of a family (dtsen.workflow): there, not found, moved away (destination unknown)
FAMILY_STATUS = ("AKTIF", "TIDAK_DITEMUKAN", "PINDAH")

# Regions named instead of coded: helpers that resolve the village code top down with
# `village_name` (see `dtsen.ingest.region_names`); never in the records.
REGION_NAMES: tuple[FieldSpec, ...] = (
    FieldSpec("province_name", "string", "provinsi name, to resolve a village name"),
    FieldSpec("regency_name", "string", "kabupaten/kota name, to resolve a village name"),
    FieldSpec("district_name", "string", "kecamatan name, to resolve a village name"),
)
HELPER_FIELDS = ("village_name", "district_code", "province_name", "regency_name", "district_name")

PERSON_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("nik", "string", "Nomor Induk Kependudukan, 16 digits"),
    FieldSpec("kk", "string", "Nomor Kartu Keluarga, 16 digits"),
    FieldSpec("full_name", "string", "name as written in the source"),
    FieldSpec("sex", "string", "L (laki-laki) or P (perempuan)", SEX),
    FieldSpec("birth_date", "date", "tanggal lahir"),
    FieldSpec("birth_place", "string", "tempat lahir"),
    FieldSpec("relationship", "string", "hubungan dengan kepala keluarga", RELATIONSHIP_VOCABULARY),
    FieldSpec("marital_status", "string", "status perkawinan", MARITAL_STATUS),
    FieldSpec("education", "string", "highest education completed", EDUCATION),
    FieldSpec("occupation", "string", "pekerjaan, free text uppercased"),
    FieldSpec("disability", "string", "disabilitas", DISABILITY),
    FieldSpec("region_code", "string", "10-digit village code, dotted PP.KK.CC.DDDD"),
    FieldSpec("village_name", "string", "desa/kelurahan name, to resolve a missing code"),
    FieldSpec("district_code", "string", "kecamatan code PP.KK.CC, to resolve a village name"),
    *REGION_NAMES,
    FieldSpec("address", "string", "alamat"),
    FieldSpec("rt", "string", "rukun tetangga, 3 digits", low=1, high=999),
    FieldSpec("rw", "string", "rukun warga, 3 digits", low=1, high=999),
    FieldSpec("is_deceased", "bool", "meninggal"),
    FieldSpec("death_date", "date", "tanggal meninggal"),
    FieldSpec("observed_at", "date", "as-of date of the row (defaults to the source's as_of)"),
)

FAMILY_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("kk", "string", "Nomor Kartu Keluarga, 16 digits"),
    FieldSpec("nik", "string", "NIK of the head or of the customer, when the source has it"),
    FieldSpec("full_name", "string", "name of the head or customer"),
    FieldSpec("region_code", "string", "10-digit village code, dotted PP.KK.CC.DDDD"),
    FieldSpec("village_name", "string", "desa/kelurahan name, to resolve a missing code"),
    FieldSpec("district_code", "string", "kecamatan code PP.KK.CC, to resolve a village name"),
    *REGION_NAMES,
    FieldSpec("address", "string", "alamat"),
    FieldSpec("rt", "string", "rukun tetangga", low=1, high=999),
    FieldSpec("rw", "string", "rukun warga", low=1, high=999),
    FieldSpec("household_size", "int", "jumlah anggota rumah tangga", low=1, high=50),
    FieldSpec("floor_area", "float", "luas lantai, m2", low=3, high=5000),
    FieldSpec("floor_type", "string", "jenis lantai terluas", FLOOR),
    FieldSpec("wall_type", "string", "jenis dinding terluas", WALL),
    FieldSpec("roof_type", "string", "jenis atap terluas", ROOF),
    FieldSpec("ownership", "string", "status kepemilikan bangunan", OWNERSHIP),
    FieldSpec("water_source", "string", "sumber air minum", WATER),
    FieldSpec("sanitation", "string", "fasilitas buang air besar", SANITATION),
    FieldSpec("lighting", "string", "sumber penerangan", LIGHTING),
    FieldSpec("electricity_va", "int", "daya listrik PLN, VA (0: no PLN connection)", low=0, high=200_000),
    FieldSpec("electricity_kwh", "float", "pemakaian listrik per bulan, kWh", low=0, high=50_000),
    FieldSpec("cooking_fuel", "string", "bahan bakar memasak", COOKING_FUEL),
    FieldSpec("has_motorbike", "bool", "memiliki sepeda motor"),
    FieldSpec("has_car", "bool", "memiliki mobil"),
    FieldSpec("has_fridge", "bool", "memiliki lemari es"),
    FieldSpec("has_ac", "bool", "memiliki AC"),
    FieldSpec("has_land", "bool", "memiliki lahan"),
    FieldSpec("livestock", "int", "jumlah ternak besar (ekor)", low=0, high=10_000),
    FieldSpec("has_gold", "bool", "memiliki emas/perhiasan >= 10 gram"),
    FieldSpec("pkh", "bool", "penerima PKH"),
    FieldSpec("bpnt", "bool", "penerima BPNT/sembako"),
    FieldSpec("pbi_jk", "bool", "peserta PBI-JK"),
    FieldSpec("consumption_per_capita", "float", "measured consumption, Rp per person per month",
              low=30_000, high=500_000_000),
    FieldSpec("survey_weight", "float", "sampling weight of a survey family: the families it stands for",
              low=0.0001, high=10_000_000),
    # the head as a survey row states it (the PMT's head predictors fall back on these when the
    # golden head person's value is unknown; distinct from the derived `head_sex` of a family)
    FieldSpec("reported_head_sex", "string", "jenis kelamin kepala rumah tangga, as the row states it", SEX),
    FieldSpec("reported_head_age", "int", "umur kepala rumah tangga in completed years on the row's date",
              low=10, high=120),
    FieldSpec("reported_head_education", "string", "pendidikan tertinggi kepala rumah tangga, as the row states it",
              EDUCATION),
    # field checks (ODK / KoboToolbox exports, see dtsen.verify.field_results)
    FieldSpec("family_ref", "int", "family_id of the current release that a field visit was for"),
    FieldSpec("officer", "string", "ID petugas: the field officer who made the visit"),
    FieldSpec("family_status", "string", "status keluarga menurut cek lapangan (dtsen.workflow)", FAMILY_STATUS),
    FieldSpec("observed_at", "date", "as-of date of the row (defaults to the source's as_of; a visit's date)"),
)

FIELDS: dict[Level, dict[str, FieldSpec]] = {
    "person": {f.name: f for f in PERSON_FIELDS},
    "family": {f.name: f for f in FAMILY_FIELDS},
}

# Fields of which at least one must be mapped for a source of that level to be usable.
IDENTITY_FIELDS: dict[Level, tuple[str, ...]] = {
    "person": ("nik", "full_name"),
    "family": ("kk", "nik", "address", "family_ref"),
}

BOOL_TRUE = ("1", "Y", "YA", "TRUE", "T", "ADA", "MILIK", "B")
BOOL_FALSE = ("0", "2", "N", "TIDAK", "TDK", "FALSE", "F", "TIDAK_ADA", "BUKAN")
