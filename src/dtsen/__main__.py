from dtsen.cli import main

main()
