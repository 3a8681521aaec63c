"""The benchmarks of langchain-tokenopt, as a package: ``python -m bench --help``.

Run from the repository root. One module (or subpackage) per measured capability, the shared
helpers once in :mod:`bench.common`; ``bench/README.md`` lists every subcommand, what it
measures, its run time and its results file.
"""
