"""The ``selfconsume`` command line: a thin layer over numerics, theory, proofs_check and
figures (DESIGN.md).  Nothing imports it; it imports the heavy packages lazily."""
