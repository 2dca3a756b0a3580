#!/usr/bin/env python3
"""Print the project's run-time dependencies (pyproject.toml) one a line: the build stage installs
them in a layer of their own, so a change to the code alone builds no wheel again."""

import sys
import tomllib

with open(sys.argv[1], "rb") as pyproject:
    print("\n".join(tomllib.load(pyproject)["project"]["dependencies"]))
