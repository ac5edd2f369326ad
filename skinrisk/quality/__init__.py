"""Quality: the paper's data filter and image-quality checks, scored once per image.

decode.py loads a small working copy (JPEG DCT scaling), checks.py scores it, neardup.py finds
near-duplicates across the whole dataset, decide.py turns scores into verdicts with thresholds
from params.yaml. OpenCV is imported inside the functions that use it, so this package imports
in both environments; the stage itself runs in the ml environment.
"""
