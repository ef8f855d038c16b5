"""The header names ministry exports give their columns, and the canonical field each names
(`dtsen sources draft` guesses a column's field from them before looking at its contents).

`HEADER_NAMES` maps a header, as `header_key` writes it (upper case, other characters as one
`_`), to a field; `SPLIT_CODES` names the four columns that make a village code together
(`NO_PROP`, `NO_KAB`, `NO_KEC`, `NO_KEL`) with the width of each part.
"""

from __future__ import annotations

import re

__all__ = ["HEADER_NAMES", "SPLIT_CODES", "header_field", "header_key"]

_NAMES: dict[str, tuple[str, ...]] = {
    "nik": ("NIK", "NO_NIK", "NOMOR_NIK", "NIK_ART", "NIK_KRT", "NIK_KK", "NIK_PENERIMA", "NIK_PELANGGAN",
            "NIK_KEPALA_KELUARGA", "NIK_PESERTA"),
    "kk": ("KK", "NO_KK", "NOKK", "NOMOR_KK", "NO_KARTU_KELUARGA", "NOMOR_KARTU_KELUARGA", "NKK"),
    "full_name": ("NAMA", "NAMA_LENGKAP", "NAMA_LGKP", "NAMA_ART", "NAMA_KRT", "NAMA_PELANGGAN", "NAMA_PENERIMA",
                  "NAMA_KEPALA_KELUARGA", "NAMA_PESERTA", "NM_LENGKAP", "NAME", "FULL_NAME"),
    "sex": ("JK", "J_K", "JENIS_KELAMIN", "JENIS_KLMIN", "JNS_KLMN", "JNS_KEL", "KELAMIN", "SEX", "GENDER"),
    "birth_date": ("TGL_LHR", "TGL_LAHIR", "TANGGAL_LAHIR", "TANGGAL_LHR", "TGLLAHIR", "BIRTH_DATE", "DOB"),
    "birth_place": ("TMPT_LHR", "TEMPAT_LAHIR", "TMP_LAHIR", "TPT_LAHIR", "TMPT_LAHIR", "BIRTH_PLACE"),
    "relationship": ("HUB", "HUB_KEL", "HUBUNGAN", "SHDK", "STAT_HBKEL", "HUB_KRT", "HUBUNGAN_KELUARGA",
                     "STATUS_HUBUNGAN", "HUB_KK", "HUBUNGAN_KK", "RELATIONSHIP"),
    "marital_status": ("STATUS_KAWIN", "STAT_KWN", "KAWIN", "STATUS_PERKAWINAN", "STS_KAWIN", "STA_KAWIN", "MARITAL_STATUS"),
    "education": ("PENDIDIKAN", "PDDK_AKH", "PENDIDIKAN_TERAKHIR", "IJAZAH", "IJAZAH_TERTINGGI", "PDDK", "EDUCATION"),
    "occupation": ("PEKERJAAN", "JENIS_PKRJN", "PKRJN", "OCCUPATION"),
    "disability": ("DISABILITAS", "CACAT", "JENIS_CACAT", "PNYDNG_CCT", "PENYANDANG_CACAT", "DISABILITY"),
    "region_code": ("KODE_DESA", "KODE_WILAYAH", "KD_DESA", "KODE_KEL", "KODE_DESA_KEL", "KDDESA", "KODE_KELURAHAN",
                    "IDDESA", "KODE_DESA_KELURAHAN", "KD_WILAYAH", "REGION_CODE"),
    "district_code": ("KODE_KEC", "KD_KEC", "KODE_KECAMATAN"),
    "village_name": ("DESA", "KELURAHAN", "NAMA_DESA", "NAMA_KEL", "DESA_KEL", "DESA_KELURAHAN", "NAMA_KELURAHAN",
                     "KEL_DESA", "NAMA_DESA_KEL"),
    "district_name": ("KECAMATAN", "NAMA_KEC", "NAMA_KECAMATAN"),
    "regency_name": ("KABUPATEN", "KAB_KOTA", "KABUPATEN_KOTA", "NAMA_KAB", "NAMA_KABUPATEN", "KOTA"),
    "province_name": ("PROVINSI", "PROPINSI", "NAMA_PROP", "NAMA_PROV", "NAMA_PROVINSI"),
    "address": ("ALAMAT", "ALAMAT_RUMAH", "ALAMAT_LENGKAP", "JALAN", "ADDRESS"),
    "rt": ("RT", "NO_RT"),
    "rw": ("RW", "NO_RW"),
    "is_deceased": ("MENINGGAL", "STATUS_MATI", "MATI", "KEMATIAN", "STATUS_MENINGGAL", "STATUS_HIDUP"),
    "death_date": ("TGL_MATI", "TANGGAL_MENINGGAL", "TGL_MENINGGAL", "TGL_KEMATIAN", "TANGGAL_KEMATIAN",
                   "TANGGAL_MATI", "DEATH_DATE"),
    "observed_at": ("TGL_UPDATE", "TANGGAL_PENDATAAN", "TGL_PENDATAAN", "TGL_PENCACAHAN"),
    "household_size": ("JML_ART", "JUMLAH_ART", "JUMLAH_ANGGOTA", "JML_ANGGOTA", "JUMLAH_ANGGOTA_KELUARGA"),
    "floor_area": ("LUAS_LANTAI", "LUAS_LANTAI_M2"),
    "floor_type": ("LANTAI", "JENIS_LANTAI", "JENIS_LANTAI_TERLUAS"),
    "wall_type": ("DINDING", "JENIS_DINDING", "JENIS_DINDING_TERLUAS"),
    "roof_type": ("ATAP", "JENIS_ATAP", "JENIS_ATAP_TERLUAS"),
    "ownership": ("STATUS_RUMAH", "KEPEMILIKAN_RUMAH", "STA_BANGUNAN", "STATUS_BANGUNAN", "STATUS_KEPEMILIKAN"),
    "water_source": ("SUMBER_AIR", "AIR_MINUM", "SUMBER_AIR_MINUM"),
    "sanitation": ("JAMBAN", "BAB", "FASILITAS_BAB", "FASILITAS_JAMBAN"),
    "lighting": ("PENERANGAN", "SUMBER_PENERANGAN"),
    "electricity_va": ("DAYA", "DAYA_VA", "DAYA_LISTRIK", "DAYA_TERPASANG", "VA"),
    "electricity_kwh": ("KWH", "PEMAKAIAN_KWH", "KWH_BULAN"),
    "cooking_fuel": ("BAHAN_BAKAR", "BAHAN_BAKAR_MASAK", "BAHAN_BAKAR_MEMASAK", "BB_MASAK"),
    "has_motorbike": ("SEPEDA_MOTOR", "MOTOR", "PUNYA_MOTOR"),
    "has_car": ("MOBIL", "PUNYA_MOBIL"),
    "has_fridge": ("KULKAS", "LEMARI_ES"),
    "has_ac": ("AC",),
    "has_land": ("LAHAN", "PUNYA_LAHAN"),
    "livestock": ("TERNAK", "JML_TERNAK", "JML_SAPI_KERBAU"),
    "has_gold": ("EMAS", "PUNYA_EMAS"),
    "pkh": ("PKH", "PENERIMA_PKH"),
    "bpnt": ("BPNT", "SEMBAKO", "PENERIMA_BPNT"),
    "pbi_jk": ("PBI", "PBI_JK", "PESERTA_PBI", "PENERIMA_PBI_JK"),
    "consumption_per_capita": ("KAPITA", "PENGELUARAN_KAPITA", "KONSUMSI_KAPITA", "PENGELUARAN_PER_KAPITA"),
    "survey_weight": ("WEIGHT", "BOBOT", "PENIMBANG", "FWT", "WERT", "WEIND"),
    # the head of the household (KRT: kepala rumah tangga; KK: kepala keluarga) as a survey states it
    "reported_head_sex": ("JK_KRT", "JENIS_KELAMIN_KRT", "JNS_KEL_KRT", "SEX_KRT", "JK_KEPALA", "JK_KEPALA_KELUARGA",
                          "JENIS_KELAMIN_KEPALA_KELUARGA", "JENIS_KELAMIN_KEPALA_RUMAH_TANGGA", "HEAD_SEX"),
    "reported_head_age": ("UMUR_KRT", "USIA_KRT", "UMUR_KEPALA", "UMUR_KEPALA_KELUARGA", "UMUR_KEPALA_RUMAH_TANGGA",
                          "USIA_KEPALA_KELUARGA", "HEAD_AGE"),
    "reported_head_education": ("PENDIDIKAN_KRT", "PDDK_KRT", "IJAZAH_KRT", "PENDIDIKAN_KEPALA",
                                "PENDIDIKAN_KEPALA_KELUARGA", "PENDIDIKAN_KEPALA_RUMAH_TANGGA", "HEAD_EDUCATION"),
}
HEADER_NAMES: dict[str, str] = {name: fld for fld, names in _NAMES.items() for name in names}
# Four columns that make a village code together (civil-registry exports, without zero padding).
SPLIT_CODES: dict[str, tuple[tuple[str, ...], int]] = {
    "province": (("NO_PROP", "NO_PROV", "KD_PROP", "KODE_PROP", "KODE_PROV", "KD_PROV"), 2),
    "regency": (("NO_KAB", "KD_KAB", "KODE_KAB", "NO_KAB_KOTA", "NO_KABKOT"), 2),
    "district": (("NO_KEC", "KD_KEC", "KODE_KEC"), 2),
    "village": (("NO_KEL", "NO_DESA", "KD_KEL", "KD_DESA", "KODE_KEL", "KODE_DESA"), 4),
}


def header_key(name: str) -> str:
    """A header name as it is looked up: upper case, runs of other characters as one `_`."""
    return re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


def header_field(name: str) -> str | None:
    """The canonical field a header names (`ADA_`/`PUNYA_`/`MEMILIKI_` before an asset name too)."""
    key = header_key(name)
    found = HEADER_NAMES.get(key)
    if found is None:
        for prefix in ("ADA_", "PUNYA_", "MEMILIKI_", "PENERIMA_"):
            if key.startswith(prefix) and HEADER_NAMES.get(key[len(prefix):], "").startswith(("has_", "pkh", "bpnt", "pbi")):
                return HEADER_NAMES[key[len(prefix):]]
    return found
