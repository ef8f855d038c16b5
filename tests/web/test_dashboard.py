"""The dashboard in a real browser (Debian's Chromium through Playwright) on a built project of a
few hundred persons, and its protections over plain HTTP: known answers from the release
tables, region scope tried with direct URLs, a citizen limited to their family, CSRF refusals,
the content security policy, audit entries of every view, accessibility (axe-core)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dtsen.engine import read_parquet_arrow
from dtsen.quality.suppress import format_count
from dtsen.store.tables import audit_log
from dtsen.web.session import SESSION_COOKIE
from tests.web.conftest import (
    PASSWORD,
    Server,
    Site,
    login,
    make_site,
    start_server,
    stop_server,
)

PERSONS = 300
AXE = Path(__file__).parent / "vendor" / "axe.min.js"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("web") / "proyek", PERSONS, seed=7)


@pytest.fixture(scope="module")
def server(site: Site) -> Iterator[Server]:
    s = start_server(site.settings)
    yield s
    stop_server(s)


def http(server: Server) -> TestClient:
    """A client on the running app over https://testserver (so Secure cookies are kept)."""
    return TestClient(server.app, base_url="https://testserver", raise_server_exceptions=False,
                      follow_redirects=False)


def http_login(server: Server, site: Site, username: str) -> TestClient:
    c = http(server)
    page = c.get("/web/masuk")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf is not None
    r = c.post("/web/masuk", data={"csrf": csrf.group(1), "nama": username, "sandi": PASSWORD,
                                   "kode": site.code(username), "lanjut": "/web/"})
    assert r.status_code == 303, r.text
    return c


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def shown(value: int, threshold: int = 10) -> str:
    return f"<{threshold}" if 0 < value < threshold else format_count(value)


def audit_entries(server: Server, **where: str) -> list[dict[str, Any]]:
    with server.security.store.reading() as conn:
        q = sa.select(audit_log).where(*(audit_log.c[k] == v for k, v in where.items())).order_by(audit_log.c.seq)
        rows = [dict(r) for r in conn.execute(q).mappings()]
    for r in rows:
        r["records"] = json.loads(r["records"])
        r["detail"] = json.loads(r["detail"])
    return rows


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page (axe evaluated through the DevTools
    protocol, so the page's content security policy stays on)."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


# -- logging in ------------------------------------------------------------------------------------------


def test_login_with_totp_sets_a_strict_session_cookie(browser: Any, server: Server, site: Site,
                                                      artifacts: Path) -> None:
    context = browser.new_context(locale="id-ID")
    page = context.new_page()
    page.goto(server.url + "/web/wilayah")
    assert "/web/masuk" in page.url  # not logged in: the login page, remembering where to go
    page.screenshot(path=str(artifacts / "masuk.png"), full_page=True)
    assert not axe_violations(page)
    page.get_by_label("Nama pengguna").fill("bupati")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_label("Kode autentikator (TOTP)").fill("000000")
    page.get_by_role("button", name="Masuk").click()
    assert "Nama pengguna, kata sandi atau kode salah" in page.inner_text("main")
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_label("Kode autentikator (TOTP)").fill(site.code("bupati"))
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/web/wilayah")
    assert page.locator("h1").inner_text().startswith("Ringkasan wilayah")
    cookie = next(c for c in context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert page.evaluate("document.cookie").find(SESSION_COOKIE) < 0  # not readable by scripts
    # logging out revokes the session: the old cookie no longer opens a page
    token = cookie["value"]
    page.get_by_role("button", name="Keluar").click()
    page.wait_for_url("**/web/masuk")
    c = http(server)
    c.cookies.set(SESSION_COOKIE, token, domain="testserver")
    assert c.get("/web/wilayah").status_code == 303
    context.close()


# -- the region overview -----------------------------------------------------------------------------------


def regency_truth(site: Site) -> dict[str, int]:
    inside = [p for p in site.persons() if (p["region_code"] or "").startswith(site.regency + ".")]
    fams = [f for f in site.families() if (f["region_code"] or "").startswith(site.regency + ".")]
    return {
        "persons_living": sum(1 for p in inside if not p["is_deceased"]),
        "families": len(fams),
        "poor_persons": sum(f["size"] or 0 for f in fams if f["poor"]),
        "extreme_persons": sum(f["size"] or 0 for f in fams if f["extreme_poor"]),
    }


def test_overview_shows_the_release_figures(browser: Any, server: Server, site: Site, artifacts: Path) -> None:
    page = login(browser, server, site, "bupati")
    assert page.url.endswith("/web/wilayah")  # the kepala daerah starts on their region
    truth = regency_truth(site)
    assert truth["persons_living"] >= 100 and truth["families"] >= 10
    for name, value in truth.items():  # the number, or "<10" for a small one
        assert page.locator(f'[data-figure="{name}"]').inner_text() == shown(value), name
    rid = site.release_dir.name
    assert page.locator(f'text="{rid}"').count() >= 1
    # the districts' table: every count is the release's, or hidden (never a small count)
    districts: dict[str, dict[str, int]] = {}
    for p in site.persons():
        code = (p["region_code"] or "")[:8]
        if code.startswith(site.regency + ".") and len(code) == 8:
            districts.setdefault(code, {"families": 0, "extreme_persons": 0})
    for f in site.families():
        code = (f["region_code"] or "")[:8]
        if code.startswith(site.regency + "."):
            d = districts.setdefault(code, {"families": 0, "extreme_persons": 0})
            d["families"] += 1
            d["extreme_persons"] += (f["size"] or 0) if f["extreme_poor"] else 0
    rows = page.locator("table.regions tbody tr")
    assert rows.count() == len(districts)
    for i in range(rows.count()):
        row = rows.nth(i)
        code = row.get_attribute("data-region")
        assert code in districts
        cells = row.locator("td").all_inner_texts()
        for value, text in ((districts[code]["families"], cells[1]), (districts[code]["extreme_persons"], cells[3])):
            if 0 < value < 10:
                assert text == "<10"
            else:
                assert text in (format_count(value), "–")
    page.screenshot(path=str(artifacts / "ringkasan-wilayah.png"), full_page=True)
    assert not axe_violations(page)
    # the charts are pictures with a text alternative; no script draws them
    images = page.locator("figure.chart img")
    assert images.count() == 2 and all(images.nth(i).get_attribute("alt") for i in range(2))
    # a district below, by its link
    first = rows.nth(0).locator("a")
    code = rows.nth(0).get_attribute("data-region")
    first.click()
    page.wait_for_url(f"**wilayah={code}*")
    assert code in page.locator("h1").inner_text()
    # on a phone
    phone = login(browser, server, site, "operator-kab", viewport={"width": 390, "height": 844})
    phone.goto(server.url + "/web/wilayah")
    assert phone.locator('[data-figure="families"]').inner_text() == format_count(truth["families"])
    phone.screenshot(path=str(artifacts / "ringkasan-wilayah-ponsel.png"), full_page=True)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 400  # nothing forces the page wider than the phone (tables scroll inside their box)
    page.context.close()
    phone.context.close()


# -- the family page --------------------------------------------------------------------------------------


def ranked_family(site: Site) -> dict[str, Any]:
    fams = sorted((f for f in site.families() if f["decile"] is not None and (f["region_code"] or "").startswith(
        site.village)), key=lambda f: f["family_id"])
    return fams[0]


def test_family_page_shows_the_golden_record(browser: Any, server: Server, site: Site, artifacts: Path) -> None:
    fam = ranked_family(site)
    fid = fam["family_id"]
    members = sorted((p for p in site.persons() if p["family_id"] == fid), key=lambda p: p["person_id"])
    page = login(browser, server, site, "operator-kab")
    page.goto(f"{server.url}/web/keluarga/{fid}")
    assert page.locator("h1").inner_text() == f"Keluarga {fid}"
    assert page.locator('[data-field="decile"]').inner_text() == str(fam["decile"])
    assert page.locator('[data-field="kk"]').inner_text() == fam["kk"]
    rows = page.locator("tr[data-person]")
    assert [int(rows.nth(i).get_attribute("data-person") or 0) for i in range(rows.count())] == \
        [m["person_id"] for m in members]
    body = page.inner_text("main")
    assert all(m["full_name"] in body for m in members)
    # its decile in each release (one release here)
    assert page.locator(f'tr[data-release="{site.release_dir.name}"] td').first.inner_text() == str(fam["decile"])
    # why this decile: loaded by htmx into the page
    page.get_by_role("link", name="Tampilkan penjelasan desil").click()
    page.locator(".explanation").wait_for()
    assert f"Desil {fam['decile']};" in page.inner_text(".explanation")
    assert page.url.endswith(f"/web/keluarga/{fid}")  # stayed on the page
    page.screenshot(path=str(artifacts / "keluarga.png"), full_page=True)
    assert not axe_violations(page)
    # the operator's purpose (ground check) sees no provenance; the data steward's does
    assert page.locator("table.provenance").count() == 0
    steward = login(browser, server, site, "pengelola")
    steward.goto(f"{server.url}/web/keluarga/{fid}")
    assert steward.locator("table.provenance").count() == 1 + len(members)
    sources = set(steward.locator("td[data-source]").all_inner_texts())
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    prov = ds.dataset(str(site.release_dir / "provenance.parquet")).to_table(
        filter=(ds.field("entity") == "family") & (ds.field("id") == fid))
    assert set(pc.unique(prov["source"]).to_pylist()) <= sources
    steward.screenshot(path=str(artifacts / "keluarga-asal-data.png"), full_page=True)
    page.context.close()
    steward.context.close()
    # the views are in the audit chain, with the purpose and the records shown
    reads = [e for e in audit_entries(server, action="family.read", actor="user:operator-kab")
             if e["detail"].get("view") == "web.family"]
    assert reads and f"family:{fid}" in reads[-1]["records"] and reads[-1]["purpose"] == "ground_check"
    assert {f"person:{m['person_id']}" for m in members} <= set(reads[-1]["records"])
    explained = audit_entries(server, action="family.explain", actor="user:operator-kab")
    assert explained and explained[-1]["records"] == [f"family:{fid}"]


# -- region scope -------------------------------------------------------------------------------------------


def test_another_regency_sees_no_page_list_or_count(browser: Any, server: Server, site: Site) -> None:
    fam = ranked_family(site)
    truth = regency_truth(site)
    page = login(browser, server, site, "operator-lain")
    tries = {
        f"/web/wilayah?wilayah={site.regency}": 403,
        f"/web/wilayah?wilayah={site.village}": 403,
        f"/web/wilayah?wilayah={site.regency[:2]}": 403,
        "/web/wilayah?wilayah=": 403,
        f"/web/keluarga?wilayah={site.regency}": 403,
        f"/web/keluarga?wilayah={site.village}": 403,
        f"/web/keluarga/{fam['family_id']}": 404,
        f"/web/keluarga/{fam['family_id']}?tujuan=data_quality": 404,
        f"/web/keluarga/{fam['family_id']}/penjelasan": 404,
        "/web/audit": 403,
    }
    for path, status in tries.items():
        response = page.goto(server.url + path)
        assert response is not None and response.status == status, path
        text = page.inner_text("main")
        for value in (fam["kk"], *(str(v) for v in truth.values() if v >= 100)):
            assert value not in text, path
    # their own regency: a page, with nothing of the other regency in it
    response = page.goto(server.url + "/web/wilayah")
    assert response is not None and response.status == 200
    assert page.locator('[data-figure="families"]').inner_text() == "0"
    # searching by the KK of a family elsewhere finds nothing
    page.goto(server.url + "/web/keluarga")
    page.get_by_label("Nomor (16 angka)").fill(fam["kk"])
    page.get_by_role("button", name="Cari").click()
    assert "Keluarga tidak ditemukan di wilayah Anda." in page.inner_text("main")
    page.context.close()
    denied = audit_entries(server, actor="user:operator-lain", outcome="denied")
    assert {e["action"] for e in denied} >= {"region.summary", "family.read"}
    # a village operator: their village, not the next one
    other = next(f for f in site.families() if f["region_code"] == site.other_village)
    village = login(browser, server, site, "operator-desa")
    assert village.goto(f"{server.url}/web/keluarga/{other['family_id']}").status == 404
    assert village.goto(f"{server.url}/web/wilayah?wilayah={site.regency}").status == 403
    assert village.goto(f"{server.url}/web/wilayah?wilayah={site.other_village}").status == 403
    assert village.goto(f"{server.url}/web/wilayah").status == 200
    assert site.village in village.locator("h1").inner_text()
    own = next(f for f in site.families() if f["region_code"] == site.village)
    assert village.goto(f"{server.url}/web/keluarga/{own['family_id']}").status == 200
    listed = village.goto(f"{server.url}/web/keluarga")
    assert listed is not None and listed.status == 200
    ids = {int(x) for x in village.locator("tbody th a").all_inner_texts()}
    assert ids == {f["family_id"] for f in site.families() if f["region_code"] == site.village}
    village.context.close()


def test_a_citizen_sees_only_their_family(browser: Any, server: Server, site: Site, artifacts: Path) -> None:
    fam = ranked_family(site)
    other = next(f for f in site.families() if f["family_id"] != fam["family_id"])
    members = [p for p in site.persons() if p["family_id"] == fam["family_id"]]
    person = next(m for m in members if m["nik"] and not m["is_deceased"] and m["full_name"])
    context = browser.new_context(locale="id-ID")
    page = context.new_page()
    page.goto(server.url + "/web/warga")
    page.wait_for_url("**/web/warga/masuk")
    assert not axe_violations(page)
    page.get_by_label("NIK", exact=True).fill(person["nik"])
    page.get_by_label("Nomor KK").fill(fam["kk"])
    page.get_by_label("Nama lengkap").fill(person["full_name"])
    page.get_by_role("button", name="Lanjut").click()
    page.wait_for_url("**/web/warga/keluarga")
    text = page.inner_text("main")
    assert page.locator('[data-field="decile"]').inner_text() == str(fam["decile"])
    living = [m for m in members if not m["is_deceased"]]
    assert all(m["full_name"] in text for m in living)
    assert fam["kk"] not in text and not any(m["nik"] and m["nik"] in text for m in members)
    assert page.locator('[data-field="address"]').count() == 0
    page.screenshot(path=str(artifacts / "warga-keluarga.png"), full_page=True)
    assert not axe_violations(page)
    # no staff page opens with a citizen's session: each sends the browser to the staff login
    for path in (f"/web/keluarga/{other['family_id']}", "/web/wilayah", "/web/keluarga", "/web/audit",
                 f"/web/keluarga/{fam['family_id']}/penjelasan"):
        response = page.goto(server.url + path)
        assert response is not None and response.status == 200 and "/web/masuk" in page.url, path
        assert other["kk"] not in page.inner_text("main")
    context.close()


# -- the ground-check visit lists ----------------------------------------------------------------------------


def test_visit_lists_download_within_the_region_only_as_audited_attachments(server: Server, site: Site) -> None:
    checks = site.release_dir / "cek_lapangan"
    village_dirs = sorted(d for d in checks.glob("*/*/*") if d.is_dir())
    assert village_dirs and all(d.name.startswith(site.regency) for d in village_dirs)
    mine = next(d for d in village_dirs if (d / "formulir.xlsx").is_file())
    code = mine.name
    kab = http_login(server, site, "operator-kab")
    overview = kab.get(f"/web/wilayah?wilayah={site.regency}")
    assert f'href="/web/kunjungan?wilayah={site.regency}"' in overview.text
    listing = kab.get(f"/web/kunjungan?wilayah={site.regency}")
    assert listing.status_code == 200
    assert set(re.findall(r'<tr data-village="([0-9.]+)">', listing.text)) == {d.name for d in village_dirs}
    for name, media in (("kunjungan.csv", "text/csv"), ("kunjungan.xlsx", "spreadsheetml"),
                        ("formulir.xlsx", "spreadsheetml")):
        assert f'href="/web/kunjungan/{code}/{name}"' in listing.text
        r = kab.get(f"/web/kunjungan/{code}/{name}")
        assert r.status_code == 200 and r.content == (mine / name).read_bytes()
        assert media in r.headers["content-type"]
        assert r.headers["content-disposition"].startswith("attachment; filename=")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"] and r.headers["cache-control"] == "no-store"
    # each download is an audit entry naming the families the list holds
    candidates = read_parquet_arrow(site.release_dir / "verification_candidates.parquet").to_pylist()
    listed = sorted(c["family_id"] for c in candidates if c["region_code"] == code)
    downloads = [e for e in audit_entries(server, action="family.read", actor="user:operator-kab")
                 if e["detail"].get("view") == "web.visit_download"]
    assert len(downloads) == 3 and all(e["purpose"] == "ground_check" for e in downloads)
    assert downloads[0]["records"] == [f"family:{f}" for f in listed]
    # another regency: no list, no file, even by URL (answered like a missing file, and audited)
    lain = http_login(server, site, "operator-lain")
    assert lain.get(f"/web/kunjungan?wilayah={site.regency}").status_code == 403
    assert 'data-village="' not in lain.get("/web/kunjungan").text
    for name in ("kunjungan.csv", "kunjungan.xlsx", "formulir.xlsx"):
        r = lain.get(f"/web/kunjungan/{code}/{name}")
        assert r.status_code == 404 and "content-disposition" not in r.headers
    assert [e for e in audit_entries(server, action="family.read", actor="user:operator-lain")
            if e["outcome"] == "denied"]
    # a village operator: their own village only; the kepala daerah (no KK numbers): none
    desa = http_login(server, site, "operator-desa")
    others = [d.name for d in village_dirs if d.name != site.village]
    assert desa.get(f"/web/kunjungan/{others[0]}/kunjungan.csv").status_code == 404
    if (checks / site.village[:5] / site.village[:8] / site.village / "kunjungan.csv").is_file():
        assert desa.get(f"/web/kunjungan/{site.village}/kunjungan.csv").status_code == 200
    bupati = http_login(server, site, "bupati")
    assert 'href="/web/kunjungan' not in bupati.get(f"/web/wilayah?wilayah={site.regency}").text
    assert bupati.get(f"/web/kunjungan/{code}/kunjungan.csv").status_code == 404
    assert bupati.get("/web/kunjungan").status_code == 403
    # only the three files, never another file of the release
    for path in (f"/web/kunjungan/{code}/families.parquet", f"/web/kunjungan/{code}/..%2Fkunjungan.csv",
                 "/web/kunjungan/32.04/kunjungan.csv", f"/web/kunjungan/{code}/../../manifest.json"):
        r = kab.get(path)
        assert r.status_code in (400, 404) and "content-disposition" not in r.headers, path


# -- CSRF, headers, errors ---------------------------------------------------------------------------------


def test_forms_without_their_csrf_token_are_refused(server: Server, site: Site) -> None:
    c = http_login(server, site, "auditor")
    page = c.get("/web/audit")
    assert page.status_code == 200
    token = page_csrf(page.text)
    for data, headers in (({}, {}), ({"csrf": "0" * 64}, {}), ({"csrf": token}, {"Origin": "https://evil.example"}),
                          ({"csrf": token}, {"Sec-Fetch-Site": "cross-site"})):
        r = c.post("/web/keluar", data=data, headers=headers)
        assert r.status_code == 403 and "Formulir kedaluwarsa" in r.text
        r = c.post("/web/audit/verifikasi", data=data, headers=headers)
        assert r.status_code == 403
    assert c.get("/web/audit").status_code == 200  # still logged in: nothing was done
    assert not [e for e in audit_entries(server, action="audit.verify", actor="user:auditor")]
    # htmx sends the token as a header
    r = c.post("/web/audit/verifikasi", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 200 and "Rantai utuh" in r.text
    # the login form has its own token
    anon = http(server)
    r = anon.post("/web/masuk", data={"nama": "auditor", "sandi": PASSWORD, "kode": "123456"})
    assert r.status_code == 403 and SESSION_COOKIE not in r.headers.get("set-cookie", "")
    r = c.post("/web/keluar", data={"csrf": token})
    assert r.status_code == 303 and c.get("/web/audit").status_code == 303  # logged out


def test_pages_have_a_strict_policy_and_no_inline_script(server: Server, site: Site) -> None:
    c = http_login(server, site, "pengelola")
    fam = ranked_family(site)
    for path in ("/web/masuk", "/web/wilayah", f"/web/wilayah?wilayah={site.regency}", "/web/keluarga",
                 f"/web/keluarga/{fam['family_id']}", f"/web/keluarga/{fam['family_id']}/penjelasan",
                 "/web/tidak-ada", "/web/wilayah?wilayah=3x"):
        r = c.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp, path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
        html = r.text
        assert all(' src="/web/static/' in tag for tag in re.findall(r"<script[^>]*>", html)), path
        assert not re.search(r"\son[a-z]+=", html) and " style=" not in html and "<style" not in html, path
        assert "Traceback" not in html
    assert c.get("/web/tidak-ada").status_code == 404
    bad = c.get("/web/wilayah?wilayah=3x")
    assert bad.status_code == 400 and "Permintaan tidak sah" in bad.text
    static = c.get("/web/static/htmx.min.js")
    assert static.status_code == 200 and "max-age" in static.headers["cache-control"]
    english = c.get("/web/bahasa/en?lanjut=/web/keluarga")
    assert english.status_code == 303 and english.headers["location"] == "/web/keluarga"
    assert "Find a family" in c.get("/web/keluarga").text


# -- the auditor ---------------------------------------------------------------------------------------------


def test_the_auditor_searches_and_verifies_the_chain(browser: Any, server: Server, site: Site,
                                                     artifacts: Path) -> None:
    fam = ranked_family(site)
    viewer = http_login(server, site, "operator-kab")
    assert viewer.get(f"/web/keluarga/{fam['family_id']}").status_code == 200
    page = login(browser, server, site, "auditor")
    page.goto(server.url + "/web/audit")
    page.get_by_label("Catatan").fill(f"family:{fam['family_id']}")
    page.get_by_label("Pelaku").fill("operator-kab")
    page.get_by_role("button", name="Cari").click()
    page.wait_for_url("**catatan=family*")
    rows = page.locator("#hasil tbody tr")
    assert rows.count() >= 1
    texts = rows.all_inner_texts()
    assert all("user:operator-kab" in t and f"family:{fam['family_id']}" in t for t in texts)
    # a NIK typed in finds the entries of its keyed reference (none here: nobody looked one up)
    page.get_by_role("button", name="Periksa sekarang").click()
    page.locator("#laporan .ok").wait_for()
    assert "Rantai utuh" in page.inner_text("#laporan")
    page.screenshot(path=str(artifacts / "audit.png"), full_page=True)
    assert not axe_violations(page)
    page.context.close()
    reads = audit_entries(server, action="audit.read", actor="user:auditor")
    assert reads and reads[-1]["purpose"] == "audit"
