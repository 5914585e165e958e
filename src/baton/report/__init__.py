"""Self-contained HTML reports: one file, inline CSS and inline SVG, no network.

Reusable pieces, so the routing-policy comparison report is built from the same parts:
``html.py`` (escaping, page shell, tables, badges), ``svg.py`` (Gantt timeline, bar
charts), ``diff.py`` (a unified diff with highlighting). ``run.py`` assembles one run's
report from its run folder.
"""
