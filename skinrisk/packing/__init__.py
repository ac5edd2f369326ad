"""The training-ready image store: each curated image resized once and packed into shards."""
