"""The run record: the append-only trace, the run folders, statistics over traces,
``summary.md``, and steps recorded by hand."""
