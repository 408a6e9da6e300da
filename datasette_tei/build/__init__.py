"""The build side: from the archives (local or in the bucket) to the finished
database. Nothing here imports the serving side (datasette_tei.serve)."""
