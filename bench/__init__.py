"""Benchmarks run by ``make bench``. Each module ``bench/<name>.py`` exposes
``run() -> list[Row]``; ``python -m bench [name ...]`` runs them and prints one table."""
