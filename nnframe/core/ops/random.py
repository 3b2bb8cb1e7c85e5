"""(placeholder: filled by the random work)"""
__all__ = []
