"""The citizens' pages (/web/warga): proving who one is with NIK, KK and name, the family's status,
filing an usul or a sanggah with one evidence file, one's own cases; and the wall between a
citizen's session and the staff pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dtsen.store.tables import case_evidence, cases
from dtsen.web.session import CITIZEN_COOKIE, SESSION_COOKIE
from tests.web.conftest import Server, Site, make_site, start_server, stop_server
from tests.web.test_dashboard import audit_entries, http, http_login, page_csrf
from tests.workflow.conftest import pdf_bytes

NO_MATCH = "NIK, nomor KK dan nama tidak cocok dengan data."


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("warga-web") / "proyek", 300, seed=5)


@pytest.fixture(scope="module")
def server(site: Site) -> Iterator[Server]:
    s = start_server(site.settings)
    yield s
    stop_server(s)


def citizens_of(site: Site) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(family, a living member with a NIK) for families with a decile, by family id."""
    fams = {f["family_id"]: f for f in site.families() if f["decile"] is not None and f["kk"] and f["region_code"]}
    out: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for p in sorted(site.persons(), key=lambda p: p["person_id"]):
        fid = p["family_id"]
        if fid in fams and fid not in out and p["nik"] and not p["is_deceased"] and p["full_name"]:
            out[fid] = (fams[fid], p)
    return [out[k] for k in sorted(out)]


def prove(c: TestClient, nik: str, kk: str, name: str) -> Any:
    form = c.get("/web/warga/masuk")
    assert form.status_code == 200
    return c.post("/web/warga/masuk", data={"csrf": page_csrf(form.text), "nik": nik, "kk": kk, "nama": name})


def citizen_client(server: Server, family: dict[str, Any], person: dict[str, Any]) -> TestClient:
    c = http(server)
    r = prove(c, person["nik"], family["kk"], person["full_name"].lower())  # any case, as the API
    assert r.status_code == 303 and r.headers["location"] == "/web/warga/keluarga", r.text
    assert CITIZEN_COOKIE in r.headers["set-cookie"] and SESSION_COOKIE not in r.headers["set-cookie"]
    assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    return c


def refusal(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html)
    assert found is not None
    return found.group(1)


def test_the_right_identity_sees_its_family_and_a_wrong_one_the_generic_refusal(server: Server, site: Site) -> None:
    (fam, person), (other, other_person) = citizens_of(site)[:2]
    c = citizen_client(server, fam, person)
    page = c.get("/web/warga/keluarga")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    html = page.text
    assert re.search(r'data-field="decile">(\d+)<', html).group(1) == str(fam["decile"])  # type: ignore[union-attr]
    for programme in ("pkh", "bpnt", "pbi_jk"):
        shown = re.search(rf'data-field="{programme}">([^<]*)<', html)
        assert shown is not None and shown.group(1) == {True: "ya", False: "tidak", None: "–"}[fam[programme]]
    living = [p for p in site.persons() if p["family_id"] == fam["family_id"] and not p["is_deceased"]]
    assert living and all(p["full_name"] in html for p in living)
    assert fam["kk"] not in html and not any(p["nik"] and p["nik"] in html for p in living)
    assert other_person["full_name"] not in html and other["kk"] not in html
    # wrong name, wrong KK (another family's), a NIK the registry does not hold: one and the same refusal
    answers = []
    for nik, kk, name in ((person["nik"], fam["kk"], "Bukan Nama Ini"), (person["nik"], other["kk"], person["full_name"]),
                          ("3299999999999999", fam["kk"], person["full_name"])):
        anon = http(server)
        r = prove(anon, nik, kk, name)
        assert r.status_code == 401 and CITIZEN_COOKIE not in r.headers.get("set-cookie", "")
        assert person["full_name"] not in r.text.replace('value="' + name + '"', "")
        answers.append(refusal(r.text))
        assert anon.get("/web/warga/keluarga").headers["location"].startswith("/web/warga/masuk")
    assert answers == [NO_MATCH] * 3
    failed = audit_entries(server, action="auth.citizen", outcome="failed")
    assert len(failed) >= 3 and all(person["nik"] not in str(e) for e in failed)
    # a malformed NIK is not looked up; a form without its token is refused
    assert prove(http(server), "12", fam["kk"], "X Y").status_code == 400
    assert http(server).post("/web/warga/masuk", data={"nik": person["nik"], "kk": fam["kk"],
                                                       "nama": person["full_name"]}).status_code == 403


def test_repeated_failures_lock_the_nik_out_as_the_api_does(server: Server, site: Site) -> None:
    fam, person = citizens_of(site)[5]
    for _ in range(site.settings.security.max_failed_logins):
        assert prove(http(server), person["nik"], fam["kk"], "Nama Yang Salah").status_code == 401
    locked = prove(http(server), person["nik"], fam["kk"], person["full_name"])  # even the right answer now
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "Terlalu banyak percobaan gagal" in refusal(locked.text)
    assert CITIZEN_COOKIE not in locked.headers.get("set-cookie", "")


def count_cases(server: Server) -> int:
    with server.security.store.reading() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one())


def test_an_usul_with_a_pdf_is_filed_and_listed_and_bad_files_are_refused(server: Server, site: Site) -> None:
    (fam, person), (other, _) = citizens_of(site)[2:4]
    c = citizen_client(server, fam, person)
    token = page_csrf(c.get("/web/warga/keluarga").text)
    usul = {"csrf": token, "jenis": "usul:data_change", "alasan": "Alamat kami sudah pindah ke RT 03."}
    r = c.post("/web/warga/kasus", data=usul, files={"berkas": ("surat.pdf", pdf_bytes("Surat pindah"),
                                                                "application/pdf")})
    assert r.status_code == 303, r.text
    case_id = int(r.headers["location"].rsplit("=", 1)[1])
    with server.security.store.reading() as conn:
        row = conn.execute(sa.select(cases).where(cases.c.id == case_id)).mappings().one()
        evidence = conn.execute(sa.select(case_evidence).where(case_evidence.c.case_id == case_id)).mappings().all()
    assert (row["case_type"], row["kind"], row["family_id"], row["submitter_family_id"]) == \
        ("usul", "data_change", fam["family_id"], fam["family_id"])
    assert [e["media_type"] for e in evidence] == ["application/pdf"]
    page = c.get(r.headers["location"])
    listed = re.search(rf'<tr data-case="{case_id}">(.*?)</tr>', page.text, re.S)
    assert listed is not None and "Usul · perubahan data" in listed.group(1)
    assert f'data-filed="{case_id}"' in page.text
    assert "data-filed=" not in c.get(f"/web/warga/keluarga?diajukan={case_id + 1000}").text  # own cases only
    # HTML, a script hidden in a "PDF", an executable: refused with a clear message, nothing filed
    before = count_cases(server)
    for name, data in (("bukti.html", b"<html><body><script>alert(1)</script></body></html>"),
                       ("bukti.pdf", b"%PDF-1.4\n<script>alert(1)</script>\n%%EOF\n"),
                       ("bukti.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200)):
        r = c.post("/web/warga/kasus", data=usul, files={"berkas": (name, data, "application/pdf")})
        assert r.status_code == 415, name
        assert "Berkas bukti ditolak: hanya foto (JPEG, PNG) atau dokumen PDF yang diterima" in r.text
        assert "Pengajuan belum dikirim" in r.text
    assert count_cases(server) == before
    # a sanggah about a listed family: filed, and the page tells nothing about that family
    r = c.post("/web/warga/kasus", data={**usul, "jenis": "sanggah:not_eligible", "target_kk": other["kk"],
                                        "alasan": "Keluarga ini mampu, punya mobil."})
    assert r.status_code == 303
    sanggah_id = int(r.headers["location"].rsplit("=", 1)[1])
    with server.security.store.reading() as conn:
        filed = conn.execute(sa.select(cases).where(cases.c.id == sanggah_id)).mappings().one()
    assert filed["family_id"] == other["family_id"] and filed["submitter_family_id"] == fam["family_id"]
    page = c.get("/web/warga/keluarga")
    assert f'data-case="{sanggah_id}"' in page.text and other["kk"] not in page.text
    other_names = [p["full_name"] for p in site.persons() if p["family_id"] == other["family_id"]]
    assert not any(n and n in page.text for n in other_names)
    # a sanggah names its family; a short reason is refused; a form without the token files nothing
    before = count_cases(server)
    r = c.post("/web/warga/kasus", data={**usul, "jenis": "sanggah:not_eligible"})
    assert r.status_code == 400 and "untuk sanggah isi nomor KK atau NIK" in r.text
    assert c.post("/web/warga/kasus", data={**usul, "alasan": "pendek"}).status_code == 400
    assert c.post("/web/warga/kasus", data={**usul, "csrf": "0" * 64}).status_code == 403
    assert count_cases(server) == before
    # logging out ends the session
    assert c.post("/web/warga/keluar", data={"csrf": token}).status_code == 303
    assert c.get("/web/warga/keluarga").headers["location"].startswith("/web/warga/masuk")


def test_a_citizen_session_opens_no_staff_page_and_a_staff_session_is_no_citizen(server: Server, site: Site) -> None:
    fam, person = citizens_of(site)[4]
    c = citizen_client(server, fam, person)
    citizen_token = c.cookies.get(CITIZEN_COOKIE)
    assert citizen_token
    staff_pages = ("/web/", "/web/wilayah", "/web/keluarga", f"/web/keluarga/{fam['family_id']}", "/web/kasus",
                   "/web/kasus/baru", "/web/audit", "/web/persetujuan")
    for path in staff_pages:
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/web/masuk"), path
    # the citizen's token carried in the staff cookie is not a staff session either
    forged = http(server)
    forged.cookies.set(SESSION_COOKIE, citizen_token, domain="testserver", path="/")
    for path in staff_pages:
        r = forged.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/web/masuk"), path
    assert forged.get("/web/masuk").status_code == 200  # the login form, not a loop
    # a staff session opens no citizen page, in its cookie or carried in the citizen's
    staff = http_login(server, site, "operator-desa")
    assert staff.get("/web/kasus").status_code == 200
    r = staff.get("/web/warga/keluarga")
    assert r.status_code == 303 and r.headers["location"].startswith("/web/warga/masuk")
    staff_token = staff.cookies.get(SESSION_COOKIE)
    assert staff_token
    moved = http(server)
    moved.cookies.set(CITIZEN_COOKIE, staff_token, domain="testserver", path="/")
    r = moved.get("/web/warga/keluarga")
    assert r.status_code == 303 and r.headers["location"].startswith("/web/warga/masuk")
    before = count_cases(server)
    r = moved.post("/web/warga/kasus", data={"jenis": "usul:data_change", "alasan": "x" * 20})
    assert r.status_code == 303 and r.headers["location"] == "/web/warga/masuk"
    assert count_cases(server) == before
