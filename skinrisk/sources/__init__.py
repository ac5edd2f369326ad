"""Public data sets turned into hospital batches."""
