"""(placeholder: filled by the pool work)"""
