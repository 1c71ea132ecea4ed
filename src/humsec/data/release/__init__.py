"""Data releases: build a dated, versioned, openly licensed snapshot from publishers' files.

* :mod:`~humsec.data.release.recipe` - the declarative recipe (sources, licences, indicators);
* :mod:`~humsec.data.release.readers` - one small reader per publisher's file format;
* :mod:`~humsec.data.release.build` - licence gate, extraction, checks, atomic writing;
* :mod:`~humsec.data.release.load` - reading a written release (the shipped default);
* :mod:`~humsec.data.release.status` - data age and coverage per indicator, release targets.
"""

from humsec.data.release.build import BUILDER_VERSION, Built, LicenceRefusedError, build_release, write_release
from humsec.data.release.load import Release, load_release, shipped_release_dir
from humsec.data.release.recipe import Recipe, load_recipe
from humsec.data.release.status import indicator_status, release_targets

__all__ = ["BUILDER_VERSION", "Built", "LicenceRefusedError", "Recipe", "Release", "build_release",
           "indicator_status", "load_recipe", "load_release", "release_targets", "shipped_release_dir",
           "write_release"]
