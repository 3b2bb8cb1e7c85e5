"""(placeholder: filled by the random-streams work)"""
