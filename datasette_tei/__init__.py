"""datasette-tei: Twitter's election-integrity archives in SQLite (the
`datasette-tei` command, cli.py) and explored with Datasette (serve/plugin.py).

Datasette registers this package as its plugin (setup.py's entry point):
it looks for a plugin's static/ and templates/ folders beside the module it
registers, and only a package has a folder beside it. The hooks themselves
are in serve/plugin.py, loaded when Datasette reads the plugin, so that the
command line, which imports this package first, does not import Datasette
and what the hooks use.
"""


def __dir__():
    # pluggy finds a plugin's hooks by listing it with dir(), then reads each
    # name from the module's own namespace (not through __getattr__): the
    # hooks are put there as they are listed.
    from .serve import plugin

    globals().update(plugin.hooks())
    return sorted(globals())
