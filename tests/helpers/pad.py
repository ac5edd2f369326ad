"""PAD-UFES-20's metadata columns as published (Pacheco et al., Data in Brief 2020)."""

PUBLISHED_COLUMNS = (
    "patient_id", "lesion_id", "smoke", "drink", "background_father", "background_mother", "age",
    "pesticide", "gender", "skin_cancer_history", "cancer_history", "has_piped_water",
    "has_sewage_system", "fitspatrick", "region", "diameter_1", "diameter_2", "diagnostic",
    "itch", "grew", "hurt", "changed", "bleed", "elevation", "img_id", "biopsed")
