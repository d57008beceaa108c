from pmtape.cli.app import main

main()
