"""The dashboard's message catalogue: every text a page shows, in Bahasa Indonesia first and in
English. Templates say `t("key")` (with `{name}` placeholders filled from keywords); the language
is the `dtsen-bahasa` cookie (`/web/bahasa/en`), Bahasa Indonesia by default. A test checks that
every key a template uses is here in both languages.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from dtsen.web.session import LANG_COOKIE

LANGUAGES = ("id", "en")
DEFAULT = "id"

_M: dict[str, tuple[str, str]] = {
    # the frame
    "app.tagline": ("Data Tunggal Sosial Ekonomi Nasional", "Single socio-economic registry"),
    "app.footer": ("Setiap akses ke data pribadi dicatat dalam log audit.",
                   "Every access to personal data is recorded in the audit log."),
    "nav.skip": ("Langsung ke isi", "Skip to content"),
    "nav.label": ("Menu utama", "Main menu"),
    "nav.logout": ("Keluar", "Log out"),
    "nav.overview": ("Ringkasan wilayah", "Region overview"),
    "nav.families": ("Keluarga", "Families"),
    "nav.own_family": ("Keluarga saya", "My family"),
    "nav.audit": ("Audit", "Audit"),
    "action.show": ("Tampilkan", "Show"),
    "action.find": ("Cari", "Search"),
    "action.next": ("Berikutnya", "Next"),
    "action.previous": ("Sebelumnya", "Previous"),
    "action.older": ("Entri lebih lama", "Older entries"),
    "value.yes": ("ya", "yes"),
    "value.no": ("tidak", "no"),
    "release.label": ("Rilis", "Release"),
    "purpose.label": ("Tujuan akses", "Purpose of access"),
    "purpose.ground_check": ("Verifikasi lapangan", "Ground check"),
    "purpose.case_work": ("Penanganan kasus", "Case work"),
    "purpose.data_quality": ("Pengelolaan mutu data", "Data stewardship"),
    "purpose.self_service": ("Layanan mandiri warga", "Citizen self-service"),
    "purpose.eligibility": ("Cek kelayakan", "Eligibility check"),
    "purpose.targeting": ("Penargetan", "Targeting"),
    "purpose.statistics": ("Statistik wilayah", "Regional statistics"),
    "purpose.audit": ("Audit akses", "Access audit"),
    "level.national": ("Nasional", "National"),
    "level.province": ("Provinsi", "Province"),
    "level.regency": ("Kabupaten/kota", "Regency or city"),
    "level.district": ("Kecamatan", "District"),
    "level.village": ("Desa/kelurahan", "Village"),
    # login
    "login.title": ("Masuk", "Log in"),
    "login.intro": ("Masuk dengan nama pengguna, kata sandi dan kode 6 angka dari aplikasi autentikator Anda.",
                    "Log in with your username, password and the 6-digit code of your authenticator app."),
    "login.username": ("Nama pengguna", "Username"),
    "login.password": ("Kata sandi", "Password"),
    "login.totp": ("Kode autentikator (TOTP)", "Authenticator code (TOTP)"),
    "login.totp_hint": ("6 angka, berganti setiap 30 detik.", "6 digits, changing every 30 seconds."),
    "login.submit": ("Masuk", "Log in"),
    "login.wrong": ("Nama pengguna, kata sandi atau kode salah.", "Wrong username, password or code."),
    "login.locked": ("Terlalu banyak percobaan gagal. Tunggu beberapa menit lalu coba lagi.",
                     "Too many failed attempts. Wait a few minutes and try again."),
    "home.title": ("Selamat datang", "Welcome"),
    "home.nothing": ("Akun Anda belum diberi akses ke halaman mana pun. Hubungi administrator.",
                     "Your account has no access to any page yet. Ask your administrator."),
    # errors
    "error.status": ("Status", "Status"),
    "error.request_id": ("kode permintaan", "request id"),
    "error.home": ("Kembali ke halaman awal", "Back to the start page"),
    "error.not_found": ("Tidak ditemukan", "Not found"),
    "error.not_found_help": ("Halaman atau data ini tidak ada, atau tidak termasuk wilayah dan wewenang Anda.",
                             "This page or record does not exist, or lies outside your region and remit."),
    "error.forbidden": ("Akses ditolak", "Access denied"),
    "error.forbidden_help": ("Wewenang Anda tidak mencakup halaman ini. Penolakan ini dicatat dalam log audit.",
                             "Your access does not cover this page. The refusal is recorded in the audit log."),
    "error.csrf": ("Formulir kedaluwarsa", "The form has expired"),
    "error.csrf_help": ("Muat ulang halaman lalu kirim lagi. Formulir dari situs lain selalu ditolak.",
                        "Reload the page and send it again. Forms from other sites are always refused."),
    "error.session": ("Sesi berakhir", "Session ended"),
    "error.session_help": ("Silakan masuk lagi.", "Please log in again."),
    "error.locked": ("Terlalu banyak percobaan", "Too many attempts"),
    "error.locked_help": ("Tunggu beberapa menit lalu coba lagi.", "Wait a few minutes and try again."),
    "error.bad_request": ("Permintaan tidak sah", "The request is not valid"),
    "error.bad_request_help": ("Periksa isian Anda lalu coba lagi.", "Check what you entered and try again."),
    "error.method": ("Metode tidak diizinkan", "Method not allowed"),
    "error.method_help": ("Gunakan tautan dan tombol di halaman.", "Use the page's links and buttons."),
    "error.no_release": ("Belum ada rilis", "No release yet"),
    "error.no_release_help": ("Belum ada rilis data yang dapat ditampilkan. Hubungi pengelola data.",
                              "No release of the registry can be shown yet. Ask the data steward."),
    "error.store": ("Penyimpanan tidak tersedia", "Store unavailable"),
    "error.store_help": ("Penyimpanan operasional tidak dapat dihubungi. Coba lagi nanti.",
                         "The operational store cannot be reached. Try again later."),
    "error.internal": ("Terjadi galat", "Something went wrong"),
    "error.internal_help": ("Galat di server. Sebutkan kode permintaan di bawah saat melapor.",
                            "An error on the server. Quote the request id below when you report it."),
    # region overview
    "overview.title": ("Ringkasan wilayah", "Region overview"),
    "overview.crumbs": ("Wilayah di atasnya", "Regions above"),
    "overview.region_code": ("Kode wilayah", "Region code"),
    "overview.region_hint": ("Contoh: 32.04 (kabupaten), 32.04.05 (kecamatan), 32.04.05.2001 (desa).",
                             "For example 32.04 (regency), 32.04.05 (district), 32.04.05.2001 (village)."),
    "overview.headline": ("Angka utama", "Headline figures"),
    "overview.of_family_persons": ("dari anggota keluarga", "of family members"),
    "overview.goal_zero": ("target: nol", "goal: zero"),
    "overview.quality_score": ("Skor mutu data", "Data quality score"),
    "overview.quality_scale": ("0–100, makin tinggi makin baik", "0–100, higher is better"),
    "overview.trend": ("Menuju nol kemiskinan ekstrem", "Toward zero extreme poverty"),
    "overview.trend_caption": ("Jiwa miskin ekstrem dan miskin per rilis", "Extremely poor and poor persons by release"),
    "overview.deciles": ("Keluarga per desil", "Families by decile"),
    "overview.deciles_caption": ("Keluarga terperingkat per desil kesejahteraan (total {ranked})",
                                 "Ranked families by welfare decile (total {ranked})"),
    "overview.programmes": ("Kemiskinan dan program", "Poverty and programmes"),
    "overview.checks": ("Cek lapangan", "Ground checks"),
    "overview.children.province": ("Provinsi", "Provinces"),
    "overview.children.regency": ("Kabupaten/kota", "Regencies and cities"),
    "overview.children.district": ("Kecamatan", "Districts"),
    "overview.children.village": ("Desa/kelurahan", "Villages"),
    "overview.children_caption": ("Angka per wilayah di bawahnya, rilis {release}.",
                                  "Figures of the regions below, release {release}."),
    "overview.change_caption": ("Perubahan: jiwa miskin ekstrem dibanding rilis {previous}.",
                                "Change: extremely poor persons against release {previous}."),
    "overview.region": ("Wilayah", "Region"),
    "overview.extreme_share": ("% miskin ekstrem", "% extremely poor"),
    "overview.change": ("Perubahan", "Change"),
    "overview.no_children": ("Tidak ada data untuk wilayah di bawahnya.", "No data for the regions below."),
    "overview.family_list": ("Daftar keluarga di wilayah ini", "Families in this region"),
    "overview.suppression_note": (
        "Angka 1 sampai {largest} ditampilkan sebagai <{threshold}; tanda – menyembunyikan angka agar angka kecil "
        "tidak dapat dihitung dari angka lain.",
        "Counts from 1 to {largest} are shown as <{threshold}; a – hides a figure so that no small count can be "
        "worked out from the others."),
    "figure.persons_living": ("Penduduk", "Persons"),
    "figure.families": ("Keluarga", "Families"),
    "figure.poor_persons": ("Jiwa miskin", "Poor persons"),
    "figure.extreme_persons": ("Jiwa miskin ekstrem", "Extremely poor persons"),
    "figure.poor_families": ("Keluarga miskin", "Poor families"),
    "figure.extreme_families": ("Keluarga miskin ekstrem", "Extremely poor families"),
    "figure.pkh_families": ("Keluarga penerima PKH", "Families receiving PKH"),
    "figure.bpnt_families": ("Keluarga penerima BPNT/sembako", "Families receiving BPNT/sembako"),
    "figure.pbi_jk_families": ("Keluarga peserta PBI-JK", "Families in PBI-JK"),
    "checks.candidates": ("Keluarga dijadwalkan dikunjungi", "Families scheduled for a visit"),
    "checks.risk": ("karena risiko", "because of risk"),
    "checks.random": ("diundi acak", "drawn at random"),
    "checks.field_checked": ("Keluarga yang pernah dicek lapangan", "Families ever checked in the field"),
    "chart.decile": ("Desil", "Decile"),
    "chart.families": ("Keluarga", "Families"),
    "chart.persons": ("Jiwa", "Persons"),
    "chart.deciles_title": ("Keluarga per desil", "Families by decile"),
    "chart.deciles_alt": ("Grafik batang keluarga per desil di {region}, rilis {release}; angkanya ada di tabel "
                          "di bawah.", "Bar chart of families by decile in {region}, release {release}; the "
                          "figures are in the table below."),
    "chart.hidden_deciles": ("Desil yang disembunyikan: {deciles}.", "Deciles hidden: {deciles}."),
    "chart.trend_title": ("Jiwa miskin per rilis", "Poor persons by release"),
    "chart.trend_alt": ("Grafik garis jiwa miskin ekstrem dan miskin per rilis di {region}; angkanya ada di tabel "
                        "di bawah.", "Line chart of extremely poor and poor persons by release in {region}; the "
                        "figures are in the table below."),
    "chart.series_extreme": ("Miskin ekstrem", "Extremely poor"),
    "chart.series_poor": ("Miskin", "Poor"),
    "chart.history_title": ("Desil per rilis", "Decile by release"),
    "chart.history_alt": ("Grafik desil keluarga {family} per rilis; angkanya ada di tabel di bawah.",
                          "Chart of family {family}'s decile by release; the figures are in the table below."),
    "chart.explain_title": ("Pengaruh tiap prediktor", "Each predictor's pull"),
    "chart.explain_axis": ("Selisih dari rata-rata (ln konsumsi)", "Difference from the average (ln consumption)"),
    "chart.explain_alt": ("Grafik batang pengaruh tiap prediktor pada desil keluarga {family}; angkanya ada di "
                          "tabel di bawah.", "Bar chart of each predictor's pull on family {family}'s decile; the "
                          "figures are in the table below."),
    # families
    "families.title": ("Keluarga", "Families"),
    "families.find": ("Cari keluarga", "Find a family"),
    "families.kind": ("Cari dengan", "Search by"),
    "families.kk": ("Nomor KK", "KK number"),
    "families.number": ("Nomor (16 angka)", "Number (16 digits)"),
    "families.find_hint": ("Nomor dikirim lewat formulir dan tidak tampil di alamat halaman.",
                           "The number is sent in the form and never appears in the page address."),
    "families.not_found": ("Keluarga tidak ditemukan di wilayah Anda.", "No such family in your region."),
    "families.in_region": ("Keluarga di {region}", "Families in {region}"),
    "families.caption": ("{total} keluarga; ditampilkan {start} sampai {end}", "{total} families; showing {start} "
                         "to {end}"),
    "families.head": ("Kepala keluarga", "Head of family"),
    "families.pages": ("Halaman daftar", "List pages"),
    "family.title": ("Keluarga {id}", "Family {id}"),
    "family.members": ("Anggota keluarga", "Members"),
    "family.members_caption": ("{n} anggota", "{n} members"),
    "family.history": ("Riwayat per rilis", "History over releases"),
    "family.history_caption": ("Desil, status kemiskinan dan program per rilis",
                               "Decile, poverty and programmes by release"),
    "family.absent": ("tidak ada di rilis ini", "not in this release"),
    "family.out_of_scope": ("di luar wilayah Anda pada rilis ini", "outside your region in this release"),
    "family.provenance": ("Asal data", "Where the values come from"),
    "family.provenance_intro": ("Untuk tiap nilai: sumber yang dipakai, tanggal datanya, dan berapa sumber yang "
                                "sepakat dari yang memuatnya.", "For each value: the source used, the date of its "
                                "data, and how many of the sources holding it agree."),
    "provenance.family": ("Keluarga {id}", "Family {id}"),
    "provenance.person": ("Anggota {id}", "Member {id}"),
    "provenance.field": ("Isian", "Field"),
    "provenance.value": ("Nilai", "Value"),
    "provenance.source": ("Sumber", "Source"),
    "provenance.as_of": ("Per tanggal", "As of"),
    "provenance.agreeing": ("Sumber sepakat / memuat", "Sources agreeing / holding it"),
    "group.identity": ("Keluarga", "Family"),
    "group.welfare": ("Kesejahteraan", "Welfare"),
    "group.programmes": ("Program bantuan", "Programmes"),
    "group.dwelling": ("Tempat tinggal", "Dwelling"),
    "group.assets": ("Aset", "Assets"),
    "explain.title": ("Mengapa desil ini", "Why this decile"),
    "explain.show": ("Tampilkan penjelasan desil", "Show why the family has its decile"),
    "explain.back": ("Kembali ke halaman keluarga", "Back to the family page"),
    "explain.summary": ("Desil {decile}; perkiraan konsumsi {consumption} per orang per bulan (model {model}).",
                        "Decile {decile}; predicted consumption {consumption} per person per month (model {model})."),
    "explain.caption": ("Sumbangan tiap prediktor pada ln konsumsi per kapita, dibanding rata-rata keluarga",
                        "Each predictor's contribution to ln consumption per capita, against the average family"),
    "explain.predictor": ("Prediktor", "Predictor"),
    "explain.value": ("Nilai", "Value"),
    "explain.contribution": ("Sumbangan", "Contribution"),
    "explain.average": ("Rata-rata", "Average"),
    "explain.difference": ("Selisih", "Difference"),
    "explain.note": ("Dasar (konstanta dan wilayah): {base}.", "Base (intercept and region): {base}."),
    # audit
    "audit.title": ("Log audit", "Audit log"),
    "audit.verify": ("Periksa keutuhan rantai", "Verify the chain"),
    "audit.verify_button": ("Periksa sekarang", "Verify now"),
    "audit.search": ("Cari entri", "Search entries"),
    "audit.actor": ("Pelaku", "Actor"),
    "audit.actor_hint": ("Nama pengguna atau id klien, mis. budi atau client:kemensos-pkh.",
                         "A username or client id, e.g. budi or client:kemensos-pkh."),
    "audit.action": ("Aksi", "Action"),
    "audit.action_hint": ("Awal nama aksi, mis. family. atau auth.login.", "The start of an action's name, e.g. "
                          "family. or auth.login."),
    "audit.record": ("Catatan", "Record"),
    "audit.record_hint": ("mis. family:45, person:7, sebuah NIK, atau kk:nomor KK.",
                          "e.g. family:45, person:7, a NIK, or kk:KK number."),
    "audit.outcome": ("Hasil", "Outcome"),
    "audit.any": ("semua", "any"),
    "audit.since": ("Dari tanggal", "From"),
    "audit.until": ("Sampai tanggal", "Until"),
    "audit.caption": ("{n} entri terbaru yang cocok", "The {n} newest matching entries"),
    "audit.at": ("Waktu (UTC)", "Time (UTC)"),
    "audit.role": ("Peran", "Role"),
    "audit.purpose": ("Tujuan", "Purpose"),
    "audit.records": ("Catatan", "Records"),
    "audit.region": ("Wilayah", "Region"),
    "audit.source": ("Alamat", "Address"),
    "audit.chain_ok": ("Rantai utuh: {entries} entri, {checkpoints} titik periksa bertanda tangan.",
                       "The chain is intact: {entries} entries, {checkpoints} signed checkpoints."),
    "audit.chain_broken": ("Rantai rusak di {n} tempat ({entries} entri diperiksa):",
                           "The chain is broken in {n} places ({entries} entries checked):"),
}

_FIELDS: dict[str, tuple[str, str]] = {
    "family_id": ("Id keluarga", "Family id"), "kk": ("Nomor KK", "KK number"),
    "region_code": ("Kode wilayah", "Region code"), "address": ("Alamat", "Address"), "rt": ("RT", "RT"),
    "rw": ("RW", "RW"), "size": ("Anggota hidup", "Living members"),
    "household_size": ("Jumlah anggota rumah tangga", "Household size"), "children": ("Anak", "Children"),
    "elderly": ("Lansia", "Elderly"), "disabled": ("Penyandang disabilitas", "Persons with a disability"),
    "members_deceased": ("Anggota meninggal", "Deceased members"), "decile": ("Desil nasional", "National decile"),
    "decile_regency": ("Desil kabupaten/kota", "Regency decile"), "decile_province": ("Desil provinsi",
                                                                                      "Provincial decile"),
    "predicted_consumption": ("Perkiraan konsumsi per kapita", "Predicted consumption per capita"),
    "poverty_line": ("Garis kemiskinan", "Poverty line"), "extreme_line": ("Garis kemiskinan ekstrem",
                                                                           "Extreme poverty line"),
    "poor": ("Miskin", "Poor"), "extreme_poor": ("Miskin ekstrem", "Extremely poor"), "model_id": ("Model PMT",
                                                                                                 "PMT model"),
    "pkh": ("PKH", "PKH"), "bpnt": ("BPNT/sembako", "BPNT/sembako"), "pbi_jk": ("PBI-JK", "PBI-JK"),
    "floor_area": ("Luas lantai (m²)", "Floor area (m²)"), "floor_type": ("Jenis lantai", "Floor"),
    "wall_type": ("Jenis dinding", "Walls"), "roof_type": ("Jenis atap", "Roof"),
    "ownership": ("Status kepemilikan bangunan", "Ownership"), "water_source": ("Sumber air minum",
                                                                                "Drinking water"),
    "sanitation": ("Fasilitas buang air besar", "Sanitation"), "lighting": ("Sumber penerangan", "Lighting"),
    "electricity_va": ("Daya listrik (VA)", "Electricity (VA)"), "electricity_kwh": ("Pemakaian listrik (kWh)",
                                                                                     "Electricity use (kWh)"),
    "cooking_fuel": ("Bahan bakar memasak", "Cooking fuel"), "has_motorbike": ("Sepeda motor", "Motorbike"),
    "has_car": ("Mobil", "Car"), "has_fridge": ("Lemari es", "Fridge"), "has_ac": ("AC", "Air conditioner"),
    "has_land": ("Lahan", "Land"), "livestock": ("Ternak", "Livestock"), "has_gold": ("Emas/perhiasan", "Gold"),
    "person_id": ("Id", "Id"), "full_name": ("Nama", "Name"), "nik": ("NIK", "NIK"), "sex": ("Jenis kelamin", "Sex"),
    "birth_date": ("Tanggal lahir", "Birth date"), "birth_place": ("Tempat lahir", "Birth place"),
    "relationship": ("Hubungan dalam keluarga", "Relationship"), "marital_status": ("Status kawin",
                                                                                    "Marital status"),
    "education": ("Pendidikan", "Education"), "occupation": ("Pekerjaan", "Occupation"),
    "disability": ("Disabilitas", "Disability"), "is_deceased": ("Meninggal", "Deceased"),
    "death_date": ("Tanggal meninggal", "Date of death"),
}  # fmt: skip
MESSAGES: dict[str, tuple[str, str]] = {**_M, **{f"field.{k}": v for k, v in _FIELDS.items()}}


def language_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


class Translator:
    """`t(key, **values)`: the text of `key` in the page's language. An unknown key is a bug
    (KeyError); a field without a label shows its name."""

    def __init__(self, lang: str = DEFAULT) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self._i = LANGUAGES.index(self.lang)

    def __call__(self, key: str, **values: Any) -> str:
        entry = MESSAGES.get(key)
        if entry is None:
            if key.startswith("field."):
                return key.removeprefix("field.")
            raise KeyError(f"no message {key!r} in dtsen.web.messages")
        text = entry[self._i] or entry[0]
        return text.format(**values) if values else text
