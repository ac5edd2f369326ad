"""skinrisk: keeps a skin-tumor risk grader current.

The library is importable in both environments (orchestrator and ml): no TensorFlow, TFDV,
Airflow or DVC at import time, and nothing happens on import.
"""

__version__ = "0.1.0"
