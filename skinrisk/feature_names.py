"""The columns TFDV validates, by name and schema type: the curated manifest's metadata plus
the quality scores. Named here, below both users: params validation (drift thresholds name
features) and skinrisk.validation (which computes them)."""

from __future__ import annotations

# resolution, glare: image drift as shares of bands (see resolution_band, glare_band).
CATEGORICAL = ("diagnosis", "grade", "tumor_type", "source", "fitzpatrick_group", "body_site",
               "format", "resolution", "glare")
# The split must follow schema/schema.pbtxt (INT vs FLOAT): an Example feature of the other
# kind is a type anomaly on every row. load_schema checks the two agree.
# brightness, saturation, redness (and sharpness): image drift (camera, lighting, clinic).
INTEGER = ("pathology_verified", "width", "height", "bytes")
FLOATING = ("sharpness", "skin_fraction", "dye_fraction", "hair_fraction", "gloss_fraction",
            "dark_fraction", "bright_fraction", "brightness", "saturation", "redness")
NUMERIC = INTEGER + FLOATING
FEATURES = CATEGORICAL + NUMERIC
SCHEMA_TYPE = {**dict.fromkeys(CATEGORICAL, "BYTES"), **dict.fromkeys(INTEGER, "INT"),
               **dict.fromkeys(FLOATING, "FLOAT")}
