"""Op definitions, grouped by family (no numeric code: kernels live in nnframe/backends)."""
