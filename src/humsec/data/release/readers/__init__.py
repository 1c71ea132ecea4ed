"""Release readers, keyed by the plain name a recipe's source gives as ``reader``."""

from __future__ import annotations

from types import MappingProxyType, ModuleType

from humsec.data.release.readers import gapminder, hdr, inform, iomwdi, owid, sdg, ucdp, undesa, unhcr, vdem, wgi, wpp
from humsec.data.release.readers._base import CodeMapper, Extract, SourceFiles, file_sha256

READERS: MappingProxyType[str, ModuleType] = MappingProxyType({
    "sdg": sdg, "gapminder": gapminder, "wgi": wgi, "hdr": hdr, "ucdp": ucdp, "unhcr": unhcr,
    "owid": owid, "vdem": vdem, "wpp": wpp, "undesa": undesa, "inform": inform, "iomwdi": iomwdi,
})

__all__ = ["READERS", "CodeMapper", "Extract", "SourceFiles", "file_sha256"]
