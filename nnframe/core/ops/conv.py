"""(placeholder: filled by the conv work)"""
__all__ = []
