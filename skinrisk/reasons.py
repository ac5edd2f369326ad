"""Reason codes: why an input ended in quarantine instead of the dataset.

One code per cause, each with what the sender should do. The codes appear in quarantine tables,
reports, the ledger and MLflow; they never change meaning once released.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # the manifest row
    BAD_FILE_NAME = "bad_file_name"
    MISSING_REQUIRED = "missing_required"
    UNKNOWN_DIAGNOSIS = "unknown_diagnosis"
    BAD_VALUE = "bad_value"
    UNSAFE_VALUE = "unsafe_value"
    DUPLICATE_ROW = "duplicate_row"
    MISSING_FILE = "missing_file"
    NOT_IN_MANIFEST = "not_in_manifest"
    NOT_REGULAR_FILE = "not_regular_file"
    HARD_LINK = "hard_link"
    # the file
    EMPTY_FILE = "empty_file"
    TOO_LARGE = "too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    UNREADABLE = "unreadable"
    ANIMATED = "animated"
    TRANSPARENCY = "transparency"
    UNSUPPORTED_MODE = "unsupported_mode"
    # the dataset
    DUPLICATE_IMAGE = "duplicate_image"
    CONFLICTING_PATIENT = "conflicting_patient"
    # quality (the image stays in the raw zone; only the curated dataset leaves it out)
    LOW_RESOLUTION = "low_resolution"
    BLUR = "blur"
    UNDEREXPOSED = "underexposed"
    OVEREXPOSED = "overexposed"
    BACKGROUND_DOMINANT = "background_dominant"
    DYE = "dye"
    HAIR = "hair"
    EXUDATE = "exudate"
    FACE_VISIBLE = "face_visible"
    NOT_CLINICAL_PHOTO = "not_clinical_photo"
    NEAR_DUPLICATE = "near_duplicate"
    CONFLICTING_LABEL = "conflicting_label"

    @property
    def advice(self) -> str:
        return ADVICE[self]


ADVICE: dict[Reason, str] = {
    Reason.BAD_FILE_NAME: "use a relative path inside the batch with '/' separators, no '..', "
                          "no control or invisible characters, and a .jpg/.jpeg/.png extension",
    Reason.MISSING_REQUIRED: "fill in every required column (docs/batch-format.md)",
    Reason.UNKNOWN_DIAGNOSIS: "use a code that `skinrisk taxonomy` lists",
    Reason.BAD_VALUE: "correct the value as the detail says (it names the column and the rule; "
                      "body site and ethnicity take values from their lists)",
    Reason.UNSAFE_VALUE: "values must not hold line breaks, control or invisible characters, "
                         "nor start with =, +, @ or a tab (spreadsheet formulas), or '-' "
                         "unless a number",
    Reason.DUPLICATE_ROW: "list each image once; resend with one row per file",
    Reason.MISSING_FILE: "include the image in the batch, or remove its row",
    Reason.NOT_IN_MANIFEST: "add a row for the file, or leave it out of the batch",
    Reason.NOT_REGULAR_FILE: "send the photo itself: symbolic links, FIFOs, sockets and devices "
                             "are never followed or read (S3: no '.', '..' or empty segments "
                             "in keys)",
    Reason.HARD_LINK: "copy the photo into the batch instead of hard-linking it: a file also "
                      "linked from outside the batch is not read",
    Reason.EMPTY_FILE: "resend the image; the file has no bytes",
    Reason.TOO_LARGE: "resend a smaller file (the cap is ingest.max_file_mb)",
    Reason.UNSUPPORTED_FORMAT: "send JPEG or PNG photos",
    Reason.TOO_MANY_PIXELS: "resend at a lower resolution (the cap is ingest.max_megapixels)",
    Reason.UNREADABLE: "the file is truncated or corrupt; resend it",
    Reason.ANIMATED: "send a single still photo per file",
    Reason.TRANSPARENCY: "send the photo as taken, without transparent (cut-out) areas",
    Reason.UNSUPPORTED_MODE: "send 8-bit RGB, grayscale or CMYK photos",
    Reason.DUPLICATE_IMAGE: "nothing to do: the dataset already holds these exact bytes",
    Reason.CONFLICTING_PATIENT: "the same photo is filed under two patients; correct the "
                                "patient id at the source and resend",
    Reason.LOW_RESOLUTION: "send the photo at a higher resolution: its short side must reach "
                           "the larger of quality.min_side_px and the training input size "
                           "(pack.image_size), so no photo is upsampled",
    Reason.BLUR: "retake the photo in focus",
    Reason.UNDEREXPOSED: "retake the photo with more light",
    Reason.OVEREXPOSED: "retake the photo with less light or no flash glare",
    Reason.BACKGROUND_DOMINANT: "frame the lesion so skin fills most of the photo (paper's "
                                "filter: small sites such as finger tips)",
    Reason.DYE: "photograph the lesion before marking or staining it (paper's filter)",
    Reason.HAIR: "photograph after trimming hair over the lesion (paper's filter)",
    Reason.EXUDATE: "photograph after cleaning exudate from the lesion (paper's filter)",
    Reason.FACE_VISIBLE: "crop the photo to the lesion: a recognisable face is identifying",
    Reason.NOT_CLINICAL_PHOTO: "send clinical (camera or smartphone) photos: this looks like a "
                               "dermoscopic image (round lens vignette, fluid bubbles). A source "
                               "that sends dermoscopy is declared in split.source_modality",
    Reason.NEAR_DUPLICATE: "nothing to do: the dataset has a near-identical photo already",
    Reason.CONFLICTING_LABEL: "near-identical photos carry diagnoses of different tumor types; "
                              "a reviewer checks the pathology and writes an override "
                              "(quality.overrides_path; docs/stages.md, 'Review')",
}
