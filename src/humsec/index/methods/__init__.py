"""Pure method kernels of the composite-index engine, one registry per step family.

=============  ==================  ==========================================
module         registry            family
=============  ==================  ==========================================
denominate     ``DENOMINATE``      ``denominate``
screen         ``SCREEN``          ``screen``
impute         ``IMPUTE``          ``impute`` (``panel_methods()`` take panels)
treat          ``TREAT``           ``treat``
normalise      ``NORMALISE``       ``normalise``
weights        ``WEIGHT``          ``weight``
aggregate      ``AGGREGATE``       ``aggregate`` (and :func:`rank_desc`)
=============  ==================  ==========================================
"""

from humsec.index.methods.aggregate import AGGREGATE, rank_desc
from humsec.index.methods.denominate import DENOMINATE
from humsec.index.methods.impute import IMPUTE, panel_methods
from humsec.index.methods.normalise import NORMALISE
from humsec.index.methods.screen import SCREEN, coverage
from humsec.index.methods.treat import TREAT, TreatResult, kurt, skew
from humsec.index.methods.weights import WEIGHT

__all__ = ["AGGREGATE", "DENOMINATE", "IMPUTE", "NORMALISE", "SCREEN", "TREAT",
           "TreatResult", "WEIGHT", "coverage", "kurt", "panel_methods", "rank_desc", "skew"]
