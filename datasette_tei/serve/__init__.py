"""The serving side: the Datasette plugin's hooks (plugin.py) and what they
show. Imported only when Datasette loads the plugin."""
