"""Training: the paper's Xception recipe on the packed shards (TensorFlow, ml environment).

Modules import TensorFlow inside their functions, so the package imports in both environments.
"""
