"""A reproducible DVC + MLflow project template for tabular data."""

from mlops_template import blas_kernel

blas_kernel.pin()  # before numpy loads (see blas_kernel)
