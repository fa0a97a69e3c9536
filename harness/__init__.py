"""lstm-equiv's harness: the only code that touches TensorFlow.

It builds the real TF forms, reads their fused weights back through named layouts into the per-gate
form of :mod:`reference`, and compares outputs within stated tolerances.
"""
