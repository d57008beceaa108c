"""The ``pmtape`` command: thin typer commands over the library; rich lives only here."""
