"""Dataset versions: git + DVC in the pipeline's own workspace, tags data-vN, remote checks.

The library drives git and DVC through their command lines (tools.py); it never imports dvc.
"""
