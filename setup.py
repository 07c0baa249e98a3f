"""Packaging of hatcher: the client library and command line for Brood servers."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(*parts):
    with open(os.path.join(HERE, *parts), encoding="utf-8") as fp:
        return fp.read()


VERSION = re.search(r'^__version__ = "([^"]+)"', read("hatcher", "__init__.py"), re.M).group(1)

TEST_REQUIRES = ["pytest>=7", "pytest-cov", "responses>=0.23", "pyyaml", "psycopg[binary]>=3.2",
                 "requests-toolbelt>=1.0", "okonomiyaki[all]==3.0.0", "cryptography>=41",
                 "openapi-spec-validator>=0.7",
                 # tests/unit/test_benchmark_plots.py redraws the committed benchmark charts byte for byte:
                 # the matplotlib that drew them (3.11 needs Python 3.11; below it the test is skipped)
                 "matplotlib==3.11.2; python_version >= '3.11'"]
#: matplotlib: benchmarks/run.py --plot and benchmarks/plots.py draw the charts of docs/performance.rst.
DOCS_REQUIRES = ["sphinx>=7", "sphinx-click>=5", "matplotlib>=3.8"]
SERVER_REQUIRES = ["fastapi>=0.110", "uvicorn>=0.29", "sqlalchemy>=2.0", "alembic>=1.13", "python-multipart>=0.0.9",
                   "pyyaml>=6", "httptools>=0.5", "uvloop>=0.17; sys_platform != 'win32'", "jinja2>=3.1"]
#: The S3 blob store (obstore, pinned: its API moves between minor releases) and the PostgreSQL driver.
S3_REQUIRES = ["obstore==0.12.1; python_version >= '3.11'"]
POSTGRESQL_REQUIRES = ["psycopg[binary]>=3.2"]

setup(
    name="hatcher",
    version=VERSION,
    description="Client library and command line for Brood package-repository servers",
    long_description=read("README.rst"),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    url="https://github.com/hatcher-dev/hatcher",
    packages=find_packages(exclude=["tests", "tests.*"]),
    # The Alembic environment and its revisions are read as files, not imported as a package.
    package_data={"hatcher.server": ["migrations/*.py", "migrations/*.mako", "migrations/versions/*.py"],
                  "hatcher.server.web": ["templates/*.html", "static/*.css", "static/*.js", "static/vendor/*"]},
    python_requires=">=3.9",
    install_requires=[
        "requests>=2.25,<3",
        "attrs>=22.2",
        "six>=1.16",
        "click>=8.0",
        # the profiles file (hatcher/cli/profiles.py): tomllib is in the standard library from 3.11
        "tomli>=1.1; python_version < '3.11'",
    ],
    entry_points={
        "console_scripts": ["hatcher = hatcher.cli.main:main"],
        "pytest11": ["hatcher = hatcher.pytest_plugin"],
    },
    extras_require={
        # keyrings.alt: a real file-based keyring backend for tests/cli/test_login.py
        "test": TEST_REQUIRES + ["keyring>=23", "keyrings.alt>=4"],
        "docs": DOCS_REQUIRES,
        "server": SERVER_REQUIRES,
        "s3": SERVER_REQUIRES + S3_REQUIRES,
        "postgresql": SERVER_REQUIRES + POSTGRESQL_REQUIRES,
        # hatcher login stores API tokens in the system keyring (else in the profiles file, mode 0600)
        "keyring": ["keyring>=23"],
    },
    classifiers=[
        "Development Status :: 4 - Beta",
        "Intended Audience :: Developers",
        "License :: OSI Approved :: BSD License",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Topic :: Software Development :: Build Tools",
        "Topic :: System :: Software Distribution",
    ],
)
