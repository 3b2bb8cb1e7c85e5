"""(placeholder: filled by the nnet work)"""
__all__ = []
