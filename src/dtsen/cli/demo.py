"""`dtsen demo-accounts`: one account of every role on a synthetic project, printed once, with
how to start the service and call it. Thin: the work is `dtsen.security.demo`."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from dtsen.cli import ProjectOpt, _console, app, clean_errors


@app.command("demo-accounts")
@clean_errors
def demo_accounts(project: ProjectOpt = Path("demo")) -> None:
    """Demo accounts of every role on a project made by `dtsen synth` (refused on any other);
    prints their passwords, TOTP secrets and client secrets, and how to start the service."""
    from dtsen.config import load_settings
    from dtsen.security.demo import example_nik, seed_demo_accounts

    settings = load_settings(project)
    accounts = seed_demo_accounts(settings)
    console = _console()
    table = Table("kind", "name", "role", "region", "purposes",
                  title="AKUN DEMO SAJA / DEMO-ONLY ACCOUNTS (synthetic data; never on real data)")
    for a in accounts:
        table.add_row(a.kind, a.name, a.role, a.region or "national", ",".join(a.purposes))
    console.print(table)
    say = lambda text: console.print(text, soft_wrap=True, highlight=False, markup=False)  # noqa: E731
    say("Rahasia (ditampilkan sekali) / secrets (shown once):")
    for a in accounts:
        if a.kind == "user":
            say(f"  {a.name}: password {a.secret}  TOTP secret {a.totp_secret}")
        else:
            say(f"  {a.name}: client_secret {a.secret}")
    root = settings.project.root
    client = next(a for a in accounts if a.name == "demo-kemensos")
    nik = example_nik(root)
    say(f"""
Menjalankan layanan / start the service (it runs until Ctrl+C):
  uv run dtsen serve --project {root}            # http://127.0.0.1:8000/docs
A ministry's machine (client credentials), then a lookup for an eligibility check:
  TOKEN=$(curl -s -X POST http://127.0.0.1:8000/auth/token -d grant_type=client_credentials \\
          -d client_id={client.name} -d client_secret={client.secret} \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -X POST 'http://127.0.0.1:8000/api/persons/by-nik?purpose=eligibility' -H "Authorization: Bearer $TOKEN" \\
       -H 'content-type: application/json' -d '{{"nik": "{nik}"}}'
Staff log in with POST /auth/login (username, password and the 6-digit code of the TOTP secret above,
e.g. `python3 -c "import pyotp; print(pyotp.TOTP('SECRET').now())"`).""")
