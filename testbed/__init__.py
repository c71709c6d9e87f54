"""The test bed that tests/ and bench/ share (not part of the library): the emulator process
(`emulator.py`), the Pulumi CLI driver (`pulumi_cli.py`), fleet ids and seeds (`fleet.py`),
the no-op dynamic resource that is the engine floor (`noop.py`), and the Pulumi programs
they run (`programs/`)."""
