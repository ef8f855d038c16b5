from dtsen.cli import app

app()
