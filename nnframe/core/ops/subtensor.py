"""(placeholder: filled by the subtensor work)"""
__all__ = []
