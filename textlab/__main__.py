from textlab.cli import main

main()
