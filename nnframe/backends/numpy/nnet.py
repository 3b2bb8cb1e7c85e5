"""(placeholder: filled by the nnet work)"""
