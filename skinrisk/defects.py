"""Names shared by the generator, its truth sidecar and the checks scored against it.

No heavy imports: params validation uses these names.
"""

from __future__ import annotations

from enum import StrEnum


class Defect(StrEnum):
    BLUR = "blur"
    DYE = "dye"  # coloured potion on the lesion: gentian violet, iodine, marker ink
    HAIR = "hair"  # lesion covered by hair
    TINY_LESION = "tiny_lesion"  # small site (finger tip): background outweighs skin
    EXUDATE = "exudate"  # wet, glossy exudate with specular highlights
    CORRUPT = "corrupt"  # truncated file that does not decode
    DUPLICATE = "duplicate"  # the same photo sent again under another file name
