"""(placeholder: filled by the subtensor work)"""
