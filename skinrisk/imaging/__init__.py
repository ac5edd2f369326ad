"""Image bytes: format checks, lossless metadata stripping, orientation, conversion to 8-bit RGB."""
