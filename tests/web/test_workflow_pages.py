"""The workflow's pages in a real browser, end to end on a built project: the village operator
files an usul and records the musdes with its signed minutes -> dinas sosial assigns, records the
visit and verifies, and composes the batch -> the kepala daerah signs it in the approval inbox ->
`dtsen build` (the library) -> the family page shows the change with its provenance naming the
case and the batch, and the submitter sees the outcome. An operator of another regency never sees
the case, the batch or a count of them, with the URLs tried directly."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dtsen.store.tables import approval_batches, cases
from tests.conftest import build_on_duckdb
from tests.web.conftest import Server, Site, login, make_site, start_server, stop_server
from tests.web.test_dashboard import axe_violations
from tests.workflow.conftest import pdf_bytes


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return make_site(tmp_path_factory.mktemp("alur-web") / "proyek", 300, seed=11)


@pytest.fixture(scope="module")
def server(site: Site) -> Iterator[Server]:
    s = start_server(site.settings)
    yield s
    stop_server(s)


def chosen_family(site: Site) -> tuple[dict[str, Any], dict[str, Any]]:
    """A family of the village operator's village with two or more living members whose floor is
    not earth, and the member (not the head) who will be reported deceased."""
    members: dict[int, list[dict[str, Any]]] = {}
    for p in site.persons():
        if p["family_id"] is not None and not p["is_deceased"]:
            members.setdefault(p["family_id"], []).append(p)
    for f in sorted(site.families(), key=lambda f: f["family_id"]):
        ms = members.get(f["family_id"], [])
        if f["region_code"] == site.village and len(ms) >= 2 and f["floor_type"] != "TANAH":
            dying = next((m for m in ms if m["relationship"] != "KEPALA_KELUARGA"), None)
            if dying is not None:
                return f, dying
    raise AssertionError("no suitable family in the village")


def submit(page: Any, form: Any) -> None:
    with page.expect_navigation():
        form.get_by_role("button").click()


def action_form(page: Any, action: str) -> Any:
    return page.locator(f'form[action$="/tindakan/{action}"]')


def test_usul_through_signature_and_build_to_the_family_page(browser: Any, server: Server, site: Site,
                                                             artifacts: Path, tmp_path: Path) -> None:
    fam, dying = chosen_family(site)
    fid = fam["family_id"]

    # 1. the village operator files the usul about the family, accepts it, uploads the minutes
    #    and records the musdes
    desa = login(browser, server, site, "operator-desa")
    desa.goto(f"{server.url}/web/keluarga/{fid}")
    assert desa.locator("#h-family-cases").count() == 1 and "Belum ada kasus." in desa.inner_text("main")
    with desa.expect_navigation():
        desa.get_by_role("link", name="Ajukan usul atau laporan").click()
    assert desa.get_by_label("Nomor keluarga (id di rilis)").input_value() == str(fid)
    desa.get_by_label("Jenis").select_option("usul:data_change")
    desa.get_by_label("Alasan").fill("Lantai rumah tanah; seorang anggota telah meninggal")
    with desa.expect_navigation():
        desa.get_by_role("button", name="Ajukan").click()
    found = re.search(r"/web/kasus/(\d+)$", desa.url)
    assert found is not None, desa.url
    case_id = int(found.group(1))
    assert desa.locator('[data-field="state"]').get_attribute("data-state") == "submitted"
    submit(desa, action_form(desa, "accept"))
    assert desa.locator('[data-field="state"]').get_attribute("data-state") == "village_review"
    minutes = tmp_path / "berita-acara.pdf"
    minutes.write_bytes(pdf_bytes())
    desa.get_by_label("Jenis berkas").select_option("minutes")
    desa.get_by_label("Berkas (PDF, JPEG atau PNG)").set_input_files(str(minutes))
    with desa.expect_navigation():
        desa.get_by_role("button", name="Unggah").click()
    assert desa.locator(f'a[href^="/web/kasus/{case_id}/bukti/"]').count() == 1
    musdes = action_form(desa, "musdes")
    musdes.get_by_label("Tempat").fill("Balai desa")
    musdes.get_by_label("Yang hadir (satu per baris)").fill("Kepala desa\nBPD\nPendamping PKH")
    musdes.get_by_label("Keputusan").fill("Diusulkan: lantai tanah, satu anggota meninggal")
    desa.screenshot(path=str(artifacts / "kasus-musdes.png"), full_page=True)
    assert not axe_violations(desa)
    submit(desa, musdes)
    assert desa.locator('[data-field="state"]').get_attribute("data-state") == "verification"
    assert "Balai desa" in desa.inner_text("#h-musdes + dl")

    # 2. dinas sosial: the queue, assignment, the visit, verification, the batch
    dinas = login(browser, server, site, "operator-kab")
    dinas.goto(f"{server.url}/web/kasus?status=verification")
    assert dinas.locator(f'tr[data-case="{case_id}"]').count() == 1
    dinas.screenshot(path=str(artifacts / "antrean-kasus.png"), full_page=True)
    assert not axe_violations(dinas)
    with dinas.expect_navigation():
        dinas.locator(f'tr[data-case="{case_id}"] a').first.click()
    assign = action_form(dinas, "assign")
    assign.get_by_label("Petugas").select_option("operator-kab")
    submit(dinas, assign)
    assert "operator-kab" in dinas.inner_text("main")
    visit = action_form(dinas, "visit")
    visit.locator(f'input[name="meninggal"][value="{dying["person_id"]}"]').check()
    visit.get_by_label("Data keluarga yang berubah").select_option("floor_type")
    visit.get_by_label("Nilai baru").fill("TANAH")
    submit(dinas, visit)
    assert dinas.locator("#h-changes").count() == 1, dinas.inner_text("main")
    submit(dinas, action_form(dinas, "verify"))
    assert dinas.locator('[data-field="state"]').get_attribute("data-state") == "approval"
    dinas.goto(f"{server.url}/web/persetujuan")
    compose = dinas.locator('form[action="/web/persetujuan"]')
    assert compose.locator(f'input[name="kasus"][value="{case_id}"]').is_checked()
    submit(dinas, compose)
    found = re.search(r"/web/persetujuan/(\d+)$", dinas.url)
    assert found is not None, dinas.url
    batch_id = int(found.group(1))
    assert dinas.locator('form[action$="/tandatangan"]').count() == 0  # dinas sosial does not sign

    # 3. the kepala daerah: the inbox, what the batch changes, the signature
    bupati = login(browser, server, site, "bupati")
    bupati.goto(f"{server.url}/web/persetujuan")
    assert bupati.locator(f'tr[data-batch="{batch_id}"]').get_attribute("data-status") == "draft"
    with bupati.expect_navigation():
        bupati.locator(f'tr[data-batch="{batch_id}"] a').click()
    table = bupati.locator(f'table[data-case="{case_id}"]')
    floor = table.locator("tr", has=bupati.locator('td[data-after="floor_type"]'))
    assert floor.locator("td").nth(1).inner_text() == fam["floor_type"]  # before, from the release
    assert floor.locator('td[data-after="floor_type"]').inner_text() == "TANAH"
    assert table.locator('td[data-after="is_deceased"]').inner_text() == "ya"
    bupati.screenshot(path=str(artifacts / "persetujuan.png"), full_page=True)
    assert not axe_violations(bupati)
    submit(bupati, bupati.locator('form[action$="/tandatangan"]'))
    assert bupati.locator('[data-field="status"]').inner_text() == "Ditandatangani"
    with server.security.store.reading() as conn:
        batch = conn.execute(sa.select(approval_batches).where(approval_batches.c.id == batch_id)).mappings().one()
        state = conn.execute(sa.select(cases.c.state).where(cases.c.id == case_id)).scalar()
    assert batch["status"] == "signed" and batch["signed_by"] == "user:bupati" and batch["signature"]
    assert state == "approved"

    # 4. the next build takes the signed batch; the service serves the new release
    result = build_on_duckdb(site.root)
    assert result.release_id == "R0002"
    with server.security.store.reading() as conn:
        row = conn.execute(sa.select(cases.c.state, cases.c.in_release).where(cases.c.id == case_id)).one()
    assert (row.state, row.in_release) == ("released", "R0002")

    # 5. the family page: the new values, their provenance naming the case and the batch
    steward = login(browser, server, site, "pengelola")
    steward.goto(f"{server.url}/web/keluarga/{fid}")
    assert "R0002" in steward.inner_text(".meta")
    assert steward.locator('[data-field="floor_type"]').inner_text() == "TANAH"
    floor_row = steward.locator("table.provenance tr", has=steward.locator("th", has_text="Jenis lantai"))
    assert floor_row.locator("td").first.inner_text() == "TANAH"
    refs = floor_row.locator(f'a[data-case-ref="{case_id}"]')
    assert refs.count() == 1
    assert floor_row.locator(f'a[href="/web/persetujuan/{batch_id}"]').count() == 1
    assert steward.locator(f'#h-family-cases ~ div tr[data-case="{case_id}"]').get_attribute("data-state") \
        == "released"
    steward.screenshot(path=str(artifacts / "keluarga-setelah-usul.png"), full_page=True)
    assert not axe_violations(steward)

    # 6. the submitter sees the outcome, in their list and on the case
    desa.goto(f"{server.url}/web/kasus")
    assert "Perubahan telah masuk rilis R0002" in desa.locator(f'tr[data-case="{case_id}"]').inner_text()
    desa.goto(f"{server.url}/web/kasus/{case_id}")
    assert desa.locator('[data-field="outcome"]').inner_text().startswith("Perubahan telah masuk rilis R0002")
    assert desa.locator('[data-field="state"]').get_attribute("data-state") == "released"
    desa.screenshot(path=str(artifacts / "kasus-selesai.png"), full_page=True)

    # 7. another regency's operator: no case, no batch, no count, with the URLs tried directly
    lain = login(browser, server, site, "operator-lain")
    for path in (f"/web/kasus/{case_id}", f"/web/persetujuan/{batch_id}", f"/web/keluarga/{fid}",
                 f"/web/kasus/{case_id}/bukti/1"):
        response = lain.goto(server.url + path)
        assert response is not None and response.status == 404, path
    lain.goto(f"{server.url}/web/kasus")
    assert lain.locator("tr[data-case]").count() == 0
    assert "0 kasus" in lain.inner_text("caption")
    assert lain.locator("#h-overdue").count() == 0
    lain.goto(f"{server.url}/web/kasus?wilayah={site.regency}")
    assert lain.locator("tr[data-case]").count() == 0
    lain.goto(f"{server.url}/web/persetujuan")
    assert lain.locator("tr[data-batch]").count() == 0
    for p in (desa, dinas, bupati, steward, lain):
        p.context.close()


def test_workflow_forms_need_their_token_and_refusals_say_why(server: Server, site: Site) -> None:
    from tests.web.test_dashboard import http_login, page_csrf

    fam, _ = chosen_family(site)
    c = http_login(server, site, "operator-desa")
    form = c.get(f"/web/kasus/baru?keluarga={fam['family_id']}")
    assert form.status_code == 200
    token = page_csrf(form.text)
    filing = {"jenis": "village_report:death", "keluarga": str(fam["family_id"]), "alasan": "Laporan kematian"}
    with server.security.store.reading() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar()
    for data, headers in ((filing, {}), ({**filing, "csrf": "0" * 64}, {}),
                          ({**filing, "csrf": token}, {"Origin": "https://evil.example"})):
        assert c.post("/web/kasus/baru", data=data, headers=headers).status_code == 403
    assert c.post("/web/persetujuan", data={"wilayah": site.regency, "kasus": "1"}).status_code == 403
    assert c.post("/web/persetujuan/1/tandatangan", data={}).status_code == 403
    with server.security.store.reading() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar() == before  # nothing filed
    # with its token the report is filed; the village operator cannot forward it (dinas sosial does)
    r = c.post("/web/kasus/baru", data={**filing, "csrf": token})
    assert r.status_code == 303
    case_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = c.get(f"/web/kasus/{case_id}")
    assert f'action="/web/kasus/{case_id}/tindakan/forward"' not in page.text
    assert f'action="/web/kasus/{case_id}/tindakan/reject"' in page.text
    # past its deadline: in the village's overdue list and on the kepala daerah's overview, under its district
    import datetime as dt

    with server.security.store.writing() as conn:
        conn.execute(sa.update(cases).where(cases.c.id == case_id)
                     .values(deadline_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)))
    late = c.get("/web/kasus?terlambat=true")
    assert f'data-case="{case_id}"' in late.text and "lewat tenggat" in late.text
    bupati = http_login(server, site, "bupati")
    overview = bupati.get(f"/web/wilayah?wilayah={site.regency}")
    row = re.search(rf'<tr data-overdue="{re.escape(site.village[:8])}">.*?</tr>', overview.text, re.S)
    assert row is not None and "<td>1</td>" in row.group(0)
    # a rejection without a reason is refused, and the page says what is missing
    r = c.post(f"/web/kasus/{case_id}/tindakan/reject", data={"csrf": token, "alasan": ""})
    assert r.status_code == 400 and 'role="alert"' in r.text and "reason" in r.text
    r = c.post(f"/web/kasus/{case_id}/tindakan/reject", data={"csrf": token, "alasan": "Laporan ganda"})
    assert r.status_code == 303
    assert "Ditolak / rejected: Laporan ganda" in c.get(f"/web/kasus/{case_id}").text
    assert "Tidak ada kasus yang melewati tenggat." in bupati.get(f"/web/wilayah?wilayah={site.regency}").text
    # the kepala daerah has no case filing, and another regency cannot act on it
    assert bupati.get("/web/kasus/baru").status_code == 403
    lain = http_login(server, site, "operator-lain")
    lain_token = page_csrf(lain.get("/web/kasus").text)
    r = lain.post(f"/web/kasus/{case_id}/tindakan/reject", data={"csrf": lain_token, "alasan": "coba-coba"})
    assert r.status_code == 404
