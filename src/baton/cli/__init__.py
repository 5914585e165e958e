"""The command line: a thin layer over the library, one module per command group.

``main`` holds the click group and loads each command lazily, so ``baton --help`` imports
nothing heavy; the commands parse flags, call the library and print.
"""
