"""Backend-agnostic graph machinery."""
