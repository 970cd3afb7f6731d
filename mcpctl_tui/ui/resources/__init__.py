"""k9s-style resource views: ``:`` opens a table per kind (agents, llms … providers).

- ``kinds``: the registry: each view's name, aliases and columns.
- ``filter``: THE ``/`` filter rule (substring, ``!`` inverts, a regex when it is one).
- ``prompt``: the ``:`` prompt, with completion over the names.
- ``screen``: the table screen (sort, filter, the row keys).
- ``actions``: the row actions: y (YAML), e ($EDITOR, applied as ``apply -f``),
  d (what uses it), Ctrl+D (delete, naming what cascades).
"""
