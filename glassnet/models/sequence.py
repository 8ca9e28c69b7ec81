"""(stub: being written)"""
class RowSequenceClassifier:  # noqa
    pass

class SequenceTagger:  # noqa
    pass

