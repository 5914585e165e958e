"""``baton compare``: routing policies measured against each other on the user's own tasks.

A suite names tasks (a repository, a base commit, the task text and hidden scoring checks);
every task x policy x trial is an independent baton run, scored afterwards in a disposable
checkout by checks the models never saw. See docs/compare.md.
"""
