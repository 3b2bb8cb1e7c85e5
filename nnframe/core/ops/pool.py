"""(placeholder: filled by the pool work)"""
__all__ = []
